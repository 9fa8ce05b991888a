"""trustrec ranker: the joint two-tower model, training, scoring, explanations and trust."""
