"""The English cue patterns of understanding: positions, intents, feedback, negation context,
years, prices and counts. Word lists come from the language and domain files
(:mod:`agent.understanding.lexicon`); item nouns ("movies") are never written here."""

from __future__ import annotations

import re

from agent.understanding.lexicon import _words, all_item_nouns, lexicon, with_possessives
from agent.understanding.normalise import STOP

_EN = lexicon().en
_ORD_WORDS = _EN.ordinal_words
_NUM_WORDS = _EN.number_words
_ITEMS = "|".join(re.escape(w) for w in all_item_nouns())
_SHOWN_ONE = (
    r"(?:the (?:very )?(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last|final|top|"
    r"\d{1,2}(?:st|nd|rd|th))(?: one| \w+)?|#\d+|number \d+|no \d+|option \d+)"
)
"""One item of the shown list by its place ("the second one", "#3", "number 4")."""
_NOT_AFTER_ITEM = "".join(rf"(?<!\b{re.escape(w)} )" for w in all_item_nouns())
"""Lookbehinds: not right after an item noun ("the best movie ive seen" is no "ive seen it")."""
"""Any item or list noun of any domain ("movies", "picks")."""
_NUM = r"(\d{1,3}|" + "|".join(sorted((re.escape(k) for k in _NUM_WORDS), key=len, reverse=True)) + r")"
_NOUN = rf"(?:{_ITEMS})"
_ORD = r"(second\s+(?:to\s+)?last|penultimate|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last|final|bottom|\d{1,2}(?:st|nd|rd|th))"
_RX_ORD = re.compile(r"\b(?:(the|your|that|this)\s+)?(?:very\s+)?" + _ORD + r"(?:\s+(" + _NOUN + r"))?\b")
_RX_TOP_ONE = re.compile(
    rf"\bthe\s+top\s+(?:{_ITEMS})\b|\b(?:your\s+)?top\s+(?:pick|one|choice|result|recommendation|suggestion|option|entry)\b"
)
_ITEM_NOUN = "|".join(re.escape(w) for w in all_item_nouns() if not w.endswith("s") and w not in ("one", "watch"))
_PLURAL_ITEMS = "|".join(re.escape(w) for w in all_item_nouns() if w.endswith("s") and w != "ones") + "|ones|picks|recs"
"""Item nouns in the plural: after "pick 3" they make it a count ("pick 3 comedies"), not the third pick."""
_RX_HASH = re.compile(
    r"(?:#\s*|(?<!\bmake the )(?<!\bset the )(?<!\bchange the )(?<!\bswitch the )(?<!\bbump the )(?<!\bup the )"
    r"\b(?:number|num|no|nr|item|option|pick|choice|recommendation|suggestion|position|spot|slot|rank|entry"
    rf"|{_ITEM_NOUN})\s*\.?\s*#?\s*)(\d{{1,2}})\b(?!\s*(?:stars?|/|%|\d|more\b|of\b))"
    rf"(?!(?:\s+[a-z]+){{0,2}}\s+(?:{_PLURAL_ITEMS})\b)"
)
"""A list noun or the catalog's item noun and a number: "#3", "no. 2", "option 4", "movie 3", "position 4"."""
_RX_HASH_WORD = re.compile(
    r"\b(?:number|option|pick|choice|item|recommendation|suggestion|entry|result|position|spot|slot|rank)\s+"
    r"(one|two|three|four|five|six|seven|eight|nine|ten)\b(?!\s+(?:of|more|stars?))"
)
"""A list noun and a number word: "option two", "pick three"."""
_RX_PAIR = re.compile(
    rf"\b(\d{{1,2}})\s*(?:and|vs|versus|with|or|to|,)\s*#?\s*(\d{{1,2}})\b(?!\s*(?:{_ITEMS}|stars|/))"
)
_RX_BARE = re.compile(
    rf"\b(?:why|explain|about|like|liked|loved|compare|on)\s+(\d{{1,2}})\b(?!\s*(?:{_ITEMS}|more|stars?|/|\d))"
)
_RX_ENDS_K = re.compile(
    rf"\b(?:the|your|those|these)\s+(?P<end>first|top|last|bottom|final)\s+(?P<k>two|three|four|five|2|3|4|5)\b"
    rf"(?:\s+(?:{_ITEMS}|ones|picks|titles|of them|of those|of these))?(?!\s*(?:more\b|stars?\b|/))"
)
"""The first or last few of the list shown ("they've seen the first two", "the last 3 look dull")."""
_RX_FIRST_K = re.compile(rf"\b(?:the\s+)?(?:first|top)\s+(two|three|four|five|2|3|4|5)\b(?!\s*(?:{_ITEMS}))")

_COMPARE = re.compile(
    r"\b(compare|comparing|comparison|vs|versus|difference|differences|differ|which (?:one |of (?:them|these|those) )?(?:is|should|would|do)|better than|(?<!\bone )or the(?! other\b))\b"
)
_EXPLAIN = re.compile(
    r"\b(why(?! not (?:both|all of them|all three|all|mix them|combine them)\b)|whyd|whys|how come|what makes|what led you to|explain|explanation|reason|reasons|justify|what made you|because of what|"
    r"what(?:s| is) (?:so )?(?:good|great|special|interesting|appealing) about|what do you (?:like|see) (?:in|about)|"
    r"why should i (?:watch|see|pick|choose|try))\b"
)
_DESCRIBE = re.compile(
    r"\b(tell me (?:a (?:bit|little) )?(?:more )?about|tell me more\b|"
    r"(?:hear|know|learn|read|find out) (?:a (?:bit|little|lot|tad) |some(?:thing)? |anything )?more (?:about|on)(?=\s+\S)|more about (?:it|that|this|that one|this one)|(?:say|tell me|talk|share) (?:a (?:bit|little) )?more (?:about|on)|(?:say|tell me|talk|share|explain) (?:a (?:bit|little) )?more(?=\s*(?:[?.!,]|$|please|pls))|(?:say|write|share) (?:a (?:bit|little|few words|something) )(?:about|on)|"
    r"what(?:s| is| are) (?:it|that|this|that one|this one|the \w+(?: \w+)?|#\d+|number \d+|option \d+) like|"
    r"what(?:s| is) (?:that|this|it|that one|this one)(?=\s*(?:[?.!,]|$))|"
    rf"(?:is|was) {_SHOWN_ONE} (?:any good|worth (?:it|watching|seeing|a (?:watch|look|try)))|"
    rf"what (?:kind|sort|type|genre) (?:of (?:(?:{_ITEMS}|thing)\s+)?)?(?:is|was) (?:{_SHOWN_ONE}|it|that|this|that one|this one)"
    r"(?=\s*(?:[?.!,;]|$))|"
    # more on one item ("more on the third one", "more on movie number 4"), not on a kind ("more on mysteries")
    rf"more (?:on|about) (?:{_SHOWN_ONE}|it|that|this|that one|this one|(?:{_ITEM_NOUN}) (?:number |no |#)?\d{{1,2}})"
    r"(?=\s*(?:[?.!,;]|$|please|pls))|"
    # its age or year ("how old is the 3rd one", "what year is it from", "when did number 2 come out")
    rf"(?:how (?:old|new|recent) (?:is|was)|what year (?:is|was|did)|when (?:was|did|is)) (?:{_SHOWN_ONE}|it|that|this|that one|this one)"
    r"(?: (?:from|made|released|out|come out|came out|filmed|shot))?(?=\s*(?:[?.!,;]|$))|"
    r"what(?:s| is|(?: even| exactly| again| actually) is) (?:in |at )?(?:the (?:one|\w+) (?:in|at) )?(?:#\s*\d+|(?:number|no|option|pick|spot|slot|position|rank) \d+)(?=\s*(?:[?.!,]|$))|"
    rf"what(?:s| is| about|(?: even| exactly| again| actually) is) (?:the\s+)?(?:very\s+)?{_ORD}(?:\s+(?:one|pick|option|item|entry|result|{_ITEM_NOUN}))?(?=\s*(?:[?.!,]|$))|"
    # the question asked the other way round ("and the second is what exactly", "#3 is what?")
    rf"(?:{_SHOWN_ONE}|(?:the\s+)?{_ORD}(?:\s+one)?) (?:is|was) what(?: (?:exactly|again|even|now|then))?(?=\s*(?:[?.!,]|$))|"
    r"what(?:s| is) (?:the (?:story|premise|deal|plot)|up) (?:of|with|in)|what(?:s| is) the (?:story|premise|plot|deal)(?= there| here| with it|\s*(?:[?.!,]|$))|what(?: i)?s (?:it|that|this|that one|this one|the \w+ one|#\d+|number \d+|(?:the )?(?:very )?(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last|final|\d{1,2}(?:st|nd|rd|th))(?: \w+){0,2}) about|(?:the )?(?:rundown|lowdown|low down|scoop|gist|summary|synopsis) (?:on|of|for)|describe(?! (?:as|it as|them as|that as|this as)\b)|more (?:info|information|details) (?:on|about)|details (?:on|about|of)|(?:more |any |some )?details(?=\s*(?:[?.!]|$|please|pls))|(?:is|was) (?:it|that|this|that one|this one) (?:any good|worth (?:it|watching|seeing|a (?:watch|look|try)))|plot|synopsis|summary|who(?:s| is)? (?:in|is in|stars|starring|directed|plays|acts)|cast of|info (?:on|about))\b"
)
_GOOD = (
    r"(?:great|good|awesome|amazing|perfect|interesting|fantastic|excellent|fun|cool|nice|promising|intriguing|neat|"
    r"lovely)"
)
"""What a first impression or a like calls an item ("looks fun", "was great")."""
_IMPRESSION = re.compile(rf"\b(?:looks|sounds|seems) {_GOOD}\b")
"""A first impression ("sounds good"): with a question about the item it is the question, not a like."""
_LIKE_FB = re.compile(
    rf"\b(i (?:really |totally |absolutely )?(?:like|love|enjoy|adore|dig)|(?:really |totally |absolutely )?(?:liked|loved|enjoyed|adored)|(?:was|is|looks|sounds|seems) {_GOOD}|great (?:pick|choice|one|suggestion)|good (?:pick|choice|one|suggestion)|love (?:it|that|this)|thumbs up|nice one|favou?rite)\b"
)
_DISLIKE_FB = re.compile(
    r"\b(i (?:really )?(?:didnt|did not|dont|do not|wouldnt) (?:like|enjoy|care for|love)|i (?:really )?(?:hate|hated|dislike|disliked|cant stand|can not stand)|(?:was|is|were|are|looks?|sounds?|seems?) (?:bad|terrible|awful|boring|lame|dull|meh)|thumbs down|not a fan of|not my (?:thing|taste|cup of tea)|bad (?:pick|choice|suggestion))\b"
)
_NOTINT_FB = re.compile(
    r"\b(not interested|(?<!\bthing )(?<!\bthings )(?<!\bone )(?<!\bones )(?<!\bthat )(?<!\bwhich )(?<!\bever )"
    rf"{_NOT_AFTER_ITEM}(?:ive|i have|i already|already) (?:seen|watched)|"
    r"seen (?:it|that|this|them|those) already|(?:remove|drop|hide|skip|ditch|lose) |"
    r"take (?:it|that|this|them|those|these|that one|this one|em|(?:the |number |no |#)?"
    r"(?:\d{1,2}|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last)(?:st|nd|rd|th)?(?: one)?)"
    r" (?:out|off)\b|"
    r"take (?:out|off) (?:it|that|this|them|those|these|that one|this one)\b|no thanks|not for me|not that one|not this one|"
    # someone else has seen it ("he has seen the first one already", "my dad saw number 3 already")
    rf"{_NOT_AFTER_ITEM}(?:(?:he|she|they|we|(?:my|our) \w+) (?:has|have|had|already|has already|have already|had already)"
    r"|hes|shes|theyve|weve) (?:already )?(?:seen|watched)|"
    rf"(?:seen|watched|saw) (?:{_SHOWN_ONE}|it|that|this|them|those) already|"
    # someone's own viewing told as a story ("the 2nd one we saw last month", "my dad watched number 3 years ago")
    r"(?:i|we|he|she|they|my \w+|our \w+) (?:saw|watched|caught|rewatched)"
    r"(?= (?:(?:it|that|this|them|those|that one|this one|number \d+|no \d+|#\d+|(?:the )?(?:\d+(?:st|nd|rd|th)|"
    r"first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last)(?: one)?) )?"
    r"(?:already|before|last \w+|yesterday|recently|"
    r"(?:ages|years|months|weeks|days) ago|a while (?:ago|back)|at the cinema|in the cinema|in theaters|on tv|twice)\b)|"
    # the whole list turned down ("none of those", "seen them all")
    r"none of (?:these|those|them)(?! (?:are|is|should|can|may|must|have|has|to)\b)|"
    r"(?<!\bnot )(?<!\bnever )(?<!\bhavent )(?<!\bhasnt )(?<!\bhadnt )(?<!\bnt )"
    r"(?:seen|watched) (?:them all|all of (?:them|these|those)|all (?:these|those)|each of them|every one of them))"
)
_MORE_LIKE = re.compile(
    r"(?<!\bno )(?<!\bnot )(?<!\bany )(?<!\bwithout )\bmore (?:like|of) (?:this|that|it|these|those)\b|\bmore like (?=#|\bnumber\b|\bthe\b|\d)"
    r"|\b(?:anything|something|stuff|others?|ones?|any more)\s+(?:else\s+)?(?:like|similar to)\s+"
    rf"(?:(?:this|that|it|these|those|them)\b|(?={_SHOWN_ONE}))"
)
_MORE_ALONG = re.compile(
    r"\b(?:along|in) (?:those|these|the same|similar) lines\b|\b(?:something|anything|more|others?|ones?) similar\b"
)
"""More of what was just named, said without "like" ("more along those lines?", "anything similar?")."""
_RATING = re.compile(r"\b(\d(?:\.\d)?)\s*(?:/\s*(5|10)\b|stars?\b|out of (5|10)\b)")
_DEICTIC = re.compile(r"\b(that one|this one|that|this|it|those|these|them|they)\b")
_PLURAL_DEICTIC = re.compile(r"\b(?:those|these|them|they|theyre|any of (?:them|these|those))\b")
_SINGULAR_DEICTIC = re.compile(r"\b(?:that one|this one|that|this|it|its|thats)\b")
"""With a plural deictic and no singular one ("those look boring", "i dont like any of these"): all shown."""
_ALL = re.compile(r"\b(all of them|them all|all of these|all of those|all three|all two|both|each of them|all)\b")

_GREET = re.compile(r"^\W*(hi|hello|hey|hiya|howdy|yo|greetings|good (?:morning|afternoon|evening|day))\b")
_THANKS = re.compile(r"\b(thanks|thank you|thx|cheers|bye|goodbye|see you|good night|great thanks)\b")
_HELP = re.compile(
    r"^\W*(help|\?+)\W*$|\b(what can you do|how does this work|how do(?:es)? (?:i|you) use|what do you do|who are you|what are you|how can you help)\b"
)
_MEMORY_VIEW = re.compile(
    r"\b(what do you (?:know|remember) about me|(?:show|list|view|see) (?:me )?my (?:preferences|likes|dislikes|profile|history|memory|settings|filters)|what (?:have i|did i) (?:like|liked|dislike|disliked|say|said|rate|rated)|my preferences)\b"
)
_MEMORY_CLEAR = re.compile(
    r"\b(?:forget|clear|delete|erase|remove|reset|wipe) (?:all )?(?:of )?(?:my|what i) (likes|liked|dislikes|disliked|preferences|ratings|history|feedback|memory|profile|filters|constraints|said)\b(?!\s+about)"
)
_UNDO_HEAD = (
    r"^\s*(?:(?:actually|ok|okay|oh|hmm|um|no|nah|wait|sorry|oops|hm)[\s,.!]+)*(?:please\s+)?"
    r"(?:scrap|scratch|undo|cancel|forget|ignore|disregard|strike|take back|revert|reverse|(?:i\s+)?take\s+(?:that|it|this)\s+back"
    r"|i\s+(?:take|takes)\s+back)"
    r"(?:\s+(?:that|this|it|the last (?:one|change|bit|thing)|what i (?:just )?said|my last (?:message|request|change)|"
    r"that last (?:one|change|bit|part)))?(?:\s+(?:back|please|pls|then))?"
)
_UNDO = re.compile(
    _UNDO_HEAD + r"\s*[.!]*\s*$|"
    r"^\s*(?:go back|back to (?:what it was|before|the previous (?:one|list|filters))|undo)\s*[.!]*\s*$"
)
"""A message that only takes back the last change ("actually scrap that", "undo", "go back")."""
_UNDO_LEAD = re.compile(_UNDO_HEAD + r"\s*(?:[.,;:!]+|-+|\u2014)\s*(?=\w)")
"""A message that opens by taking back the last request and then says what to do ("actually, forget that. something
like <title>"): what follows is asked in its place."""
_RESET = re.compile(
    r"\b(start over|start again|start from scratch|from scratch|start fresh|fresh start|start afresh|clean slate|reset|new search|clear (?:all|everything|the filters|filters)|forget (?:all|everything|it all|about it)|never ?mind)\b"
    r"|\b(?:scratch|scrap|ditch|drop|cancel|undo|wipe|erase|lose|delete|bin|toss) (?:all|everything|it all)"
    r"(?: of)?(?: (?:that|this|it|those|these))?(?=\s*(?:[,.;!?]|$|except|but|apart|other than|save|besides|and start|please|pls))"
)
_ITEM_IS_QUESTION = re.compile(
    r"^\W*(?:(?:so|and|but|hmm|ok|okay|also|wait|um|quick question)\W+)*(?:is|isnt|was|wasnt|does|doesnt|would)\b"
    r"|\b(?:is|was|isnt)\s+(?:it|that|this)(?:\s+one)?\s+(?:(?:a|an|really|actually|considered|also|kind of|more of)\s+)?"
)
_ITEM_IS_QUESTION_NOT = re.compile(r"\b(?:show|give|find|recommend|suggest|want|instead|only|just)\b")
"""A yes/no question about a listed item's kind ("is the fifth one a horror movie?", "#2, is it a comedy?"): the
item described, no new wish (a message that also asks for something is a request)."""
_DROP_THE_REST = re.compile(
    r"\b(?:lose|drop|ditch|forget|scrap|scratch|bin|toss|clear|remove|get rid of|ignore|never mind|dump)\s+(?:about\s+)?"
    r"(?:all\s+(?:of\s+)?)?(?:the rest|everything else|all else|the other (?:stuff|bits|things|parts|conditions|filters))\b"
)
"""A reset of everything but what the message names ("keep the western bit and lose the rest"); no item is dropped."""
_CLEAR_YEARS = re.compile(
    r"\b(any (?:year|decade|era|time|period)|(?:year|decade|era|when) (?:doesnt|does not) matter|all years|no (?:year|date) (?:limit|restriction))\b"
)
_CLEAR_PRICE = re.compile(r"\b(any price|price (?:doesnt|does not) matter|no (?:price|budget) (?:limit|restriction))\b")
_CLEAR_CATS = re.compile(
    r"\b(any (?:genre|category|kind|type)|(?:genre|category) (?:doesnt|does not) matter|all genres)\b"
)
_CLEAR_REFS = re.compile(r"\b(forget (?:about )?(?:the )?(?:reference|references|that one)|not like (?:that|those))\b")
_FRESH = re.compile(
    r"\b(recommend|suggest|i want|i wanna|id like|i would like|looking for|show me|find me|give me|in the mood for|what should i (?:watch|try|see|pick)|(?:watch|try|see) next|what next|can you find|any good(?=\s+[a-z])|i need|what else|what other|anything else|(?:anything|something) (?:else )?similar)\b"
)
_REPLACE = re.compile(
    r"^\W*(?:hmm+\s+|well\s+)?(?:no|nah|nope|naw|no no)\s*[,.!-]+\s*(?=[a-z])|"  # "nah, mystery": a correction
    r"(?:^|\bok |\bokay |\bso |\bright )now (?!also\b|too\b|add|more\b|show|give|find|i want|narrow|limit|filter)"
    r"(?![^.,;!?]*\b(?:too|as well|aswell|also)\b)(?=[a-z])|"
    r"\b(instead|rather|prefer|this time|for a change|no wait|wait no|actually no|what about|how about|changed my mind|change of plan|on second thought|scratch that|switch to|i meant|i mean|meant to (?:say|type|write)|switch that to|switch it to|change to|change that to|change it to|make (?:that|it|them|those|these|them all|all of them|the list|the lot|everything) (?!(?:more|less|older|newer|shorter|longer)\b)(?=\w)|swap (?:that |it )?(?:for|to)|go with|now (?:show|give|find|i want)|actually i want|(?:would|might|could|will|d) be (?:better|nicer|preferable|more fun)|sounds better|(?:is|seems) a better (?:idea|choice|fit|pick))\b"
)
_REFINE_MARK = re.compile(r"\b(also|too|as well|add|plus|but|more|less|older|newer|only|without|no|not|except)\b")
_MORE_ITEMS = re.compile(
    rf"\b(more (?:{_ITEMS}|please)|show (?:me )?more|some more|other ones|others|another (?:one|batch|list|set)|next (?:ones|page|batch)|something else|anything else|different ones|new ones)\b|^\W*(more|next|others|another)\W*$"
)
_DIV_UP = re.compile(
    r"\b(something different|mix it up|mix things up|more variety|more varied|variety|more diverse|diversity|diversify|different genres|broaden|surprise me|branch out|switch it up|less similar|not so similar|wider range)\b"
)
_DIV_DOWN = re.compile(
    r"\b(more of the same|similar ones|same kind|same type|stick (?:to|with)|less variety|less diverse|more similar|more focused|keep it focused|similar stuff)\b"
)

_REF_TRIGGER = re.compile(
    rf"\b(?:(?:more |something |stuff |anything |(?:{_ITEMS}) )?like|similar to|such as|(?:along|on|in) the lines? of|"
    r"in the (?:style|vein|spirit) of|remind(?:s|ed|ing)? (?:me|us|you|him|her|them) of|resembl(?:e|es|ing)|same as|comparable to|"
    r"as good as|fans? of|(?:close|closest|closer|related|akin|equivalent|alike|nearest) to|"
    r"in the same (?:vein|league|mould|mold) as|"
    rf"if i (?:liked|loved|enjoyed)|i (?:really )?(?:liked|loved|enjoyed|adored|love|enjoy)|my favou?rite (?:(?:{_ITEMS}) )?is|"
    r"tell me (?:more )?about|describe|(?:what is|whats)(?!\s+(?:similar|like|close|comparable|akin|related))|info (?:on|about)|details (?:on|about|of)|plot of|compare|"
    r"why (?:did you (?:recommend|suggest|pick|choose|show) )?|vs|versus|between)\s+"
)
_LIKE_TRIGGER = re.compile(
    r"like|similar|such as|style|vein|spirit|remind|resembl|same as|comparable|as good as|fans? of|liked|loved|enjoy|adored|favou?rite|lines of|"
    r"close to|closest to|closer to|related to|akin to|equivalent to|alike to|nearest to|league as|mou?ld as"
)
_NO_REF_BEFORE = frozenset(
    {
        "would",
        "id",
        "d",
        "feel",
        "looks",
        "seems",
        "sounds",
        "didnt",
        "dont",
        "not",
        "never",
        "doesnt",
        "wouldnt",
        "also",
    }
)
_DISLIKE_TITLE = re.compile(
    r"\b(?:i (?:really )?(?:hated|disliked|hate|dislike|didnt like|did not like|dont like|do not like|couldnt stand|cant stand)|not a fan of)\s+"
)

_NEG_CUES = _EN.neg_cues
_NEG_SCOPE_FILLER = lexicon().neg_fillers | frozenset(all_item_nouns())


def _alt(words: object) -> str:
    """A regex alternation of folded phrases, longest first; spaces match any whitespace."""
    ws = sorted({w for w in words if w}, key=len, reverse=True)  # type: ignore[attr-defined]
    return "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in ws)


def _data_words(section: str, key: str) -> frozenset[str]:
    """Folded phrases of ``<section>.<key>`` in the English language file."""
    raw = _EN.raw.get(section, {}) or {}
    return _words(raw, key, f"agent/data/lang/en.yaml {section}")


_LIST_QUESTION = re.compile(
    r"^\W*(?:(?:so|and|but|hmm|ok|okay|also|wait|um|quick question|just curious|out of curiosity)\W+)*"
    rf"(?:(?:{_alt(_data_words('list_question', 'leads'))})\b(?:(?!\b(?:you|u|ya|we|i)\b).)*\b(?:{_alt(_data_words('list_question', 'lists'))})\b"
    rf"|(?:{_alt(_data_words('list_question', 'lists'))})\b[^.,;:!?]*\?\W*$)"  # one clause: "these all look dated. any newer?" is a request
)
"""A question whether the shown items fit a wish ("are any of these from before 1990?"): checked, not searched."""
_AGE_SUPERLATIVE = re.compile(
    rf"\b(?:(?P<newest>{_alt(_data_words('age_superlative', 'newest'))})|(?P<oldest>{_alt(_data_words('age_superlative', 'oldest'))}))\b(?!\s+than\b)"
)
"""Which shown item is the newest or the oldest: with a comparison cue, answered from the catalog's years."""

_POPULAR_ASK = re.compile(
    rf"\bwhat (?:do|does|are|is|did) (?:{_alt(_data_words('popular_ask', 'who'))}) (?:\w+ )?"
    rf"(?:{_alt(_data_words('popular_ask', 'verbs'))})\b|\b(?:{_alt(_data_words('popular_ask', 'phrases'))})\b"
)
"""What others like ("what do people usually like here?"): the popular list."""

_RESET_ALL = re.compile(
    rf"\b(?:{_alt(_data_words('removal', 'verbs'))})\s+(?:(?:{_alt(_data_words('removal', 'everything'))})\s+)?"
    rf"(?:(?:the|my|those|these|your|our|that|of)\s+)?(?:{_alt(_data_words('removal', 'whole_request'))})\b"
    r"(?!\s+(?:on|for|about|of|around|regarding)\b)"
    rf"|\b(?:{_alt(_data_words('removal', 'verbs'))})\s+(?:all|everything)(?:\s+of)?(?:\s+(?:that|this|it))?"
    r"(?=\s*(?:[,.;!]+\s*)?(?:and\s+)?(?:lets\s+|let us\s+|well\s+|we\s+can\s+)?(?:start over|start again|start afresh|start fresh|begin again)\b)"
    rf"|(?:^|[,.;!?]\s*|\b(?:with|and|just|but|so)\s+)(?:no|without|zero)\s+(?:(?:more|further|other|extra|special)\s+)?"
    rf"(?:{_alt(_data_words('removal', 'whole_request'))})(?:\s+(?:at all|whatsoever|of any kind))?"
    r"(?=\s*(?:[,.;!?]|$|please\b|pls\b|thanks\b|this time\b))"
)
"""Every constraint lifted, the list shown afresh: "clear all the filters", "could we start over? no filters at all"."""
"""A removal of the whole request ("remove both of those conditions", "clear all that, lets start over"): every
constraint goes and the list is shown again, not one slot or an item."""


_MENTIONED_BEFORE = re.compile(rf"\b(?:{_alt(_data_words('negation', 'mentioned_before'))})\s+(?:the\s+)?$")
"""A rule only talked about before its category ("what i said about X still stands"): no wish either way."""
_NEUTRAL_BEFORE = re.compile(
    rf"\b(?:{_alt(_data_words('negation', 'neutral_before'))})\s+(?:the\s+)?$"
    rf"|(?<!\bnot )(?<!\bbut not )(?<!\bjust not )(?<!\bnever )\b(?:even\s+)?if\s+(?:(?:{_alt(_data_words('negation', 'neutral_if_who'))})\s+)"
    rf"(?:(?:{_alt(_data_words('negation', 'neutral_if_verbs'))})\s+)(?:(?:also|a bit|a little|kind of|a|an|the)\s+)?$"
)
"""Saying a category is not a problem without asking for it ("im not against war or anything", "fine if some of
them happen to be war too"): neither asked for nor left out; "not if its also war" is a refusal."""


_IF_CATEGORY = re.compile(
    rf"\b(?:{_alt(_data_words('negation', 'conditional_if'))})\s+"
    rf"(?:(?P<some>{_alt(_data_words('negation', 'conditional_some'))})|{_alt(_data_words('negation', 'conditional_who'))})"
    rf"\s+(?:(?:{_alt(_data_words('negation', 'conditional_degree'))})\s+)*$"
)
"""Right before a category in a conditional ("if its X", "if one of them is X"): a condition, not a wish."""
_REFERENCE_LEAD = re.compile(
    rf"\b(?:{_alt(_words(_EN.raw, 'reference_lead', 'agent/data/lang/en.yaml'))})\s+(?:the\s+|a\s+|an\s+)?$"
)
"""Right before a title named as a reference ("something like <title>")."""
_EN_FILE = "agent/data/lang/en.yaml"
_SELF_CORRECTION = re.compile(
    r"(?:[,.;:!?\u2026)\u2013\u2014-]+\s*|(?<=\w)\s+(?="
    rf"(?:{_alt(_words(_EN.raw, 'self_correction_unpunctuated', _EN_FILE))})\b)"
    rf"|(?<=\w)\s+but\s+(?=(?:{_alt(_words(_EN.raw, 'self_correction_verbs', _EN_FILE))})\b))"
    rf"(?P<cue>(?:\b(?:{_alt(_words(_EN.raw, 'self_correction', _EN_FILE))})\b[\s,.!-]*)*"
    rf"\b(?:{_alt(_words(_EN.raw, 'self_correction_verbs', _EN_FILE) | _words(_EN.raw, 'self_correction_alone', _EN_FILE))})"
    r"\b"
    # a sentence that starts with "no" and a dash or comma ("horror from 1970 or earlier. No -- from 1970 or later")
    r"|(?:(?<=[.;!?\u2026]\s)|(?<=[.;!?\u2026]))(?:no|nope|nah)(?=\s*(?:--|-|\u2013|\u2014|,|:)\s*\w))",
    re.IGNORECASE,
)
"""Where a message corrects what it said just before ("horror... no wait, romance", "no war, oops i meant no
crime"): the cue starts the correction (applied to the raw text, so titles keep their capitals)."""
_CORRECTION_ADDS = re.compile(rf"\b(?:{_alt(_words(_EN.raw, 'correction_additions', _EN_FILE))})\b", re.IGNORECASE)
"""A correction that adds to what was said ("no horror... wait, no war either")."""
_CORRECTION_CUE = re.compile(
    rf"\b(?:{_alt(_words(_EN.raw, 'self_correction_alone', _EN_FILE) | _words(_EN.raw, 'self_correction_verbs', _EN_FILE))})\b"
)
"""The words of a correction ("on reflection", "i meant"): read as cue words, never as a query."""
_CORRECTION_LEAD = re.compile(
    rf"^\W*(?:\b(?:{_alt(_words(_EN.raw, 'self_correction', _EN_FILE))})\b[\s,.!-]*)*"
    rf"\b(?:{_alt(_words(_EN.raw, 'self_correction_verbs', _EN_FILE) | (_words(_EN.raw, 'self_correction_alone', _EN_FILE) - {'actually'}))})\b"
)
"""A message that starts by correcting what was said ("sorry, i meant ...", "no wait, ..."); not a bare "actually"."""
_THEN_FOR_THAN = re.compile(rf"\b({_alt(_words(_EN.raw, 'then_for_than', 'agent/data/lang/en.yaml'))})\s+then\b")
"""A comparative before "then", a misspelt "than" ("not older then 1984")."""
_QUOTED_EN = re.compile(
    r"""(?:^|(?<=[\s(]))['"\u201c\u2018]([^'"\u201c\u201d\u2018\u2019]{3,80}?)['"\u201d\u2019](?=[\s?.!,;:)]|$)"""
)
"""A span in quotes ("like 'the lanterns of vellmere bay'"): a title the person names."""
_ANAPHORIC = re.compile(rf"\b(?:{_alt(_data_words('negation', 'anaphoric'))})\b")
"""After the one asked category: a refusal of "it"/"those" that takes it back."""
_COND_REFUSAL = re.compile(rf"\b(?:{_alt(_data_words('negation', 'conditional_refusals'))})\b")
"""In the sentence of a conditional category: what happens then is a refusal, so the category is left out."""


_KIND_NOUNS = r"(?:stuff|ones|genre|genres|kind|type|category|side|bits|things)"
"""Nouns after a category that name its kind ("the musical genre is ok now", "horror stuff is out")."""
_ALLOW_AFTER = re.compile(
    rf"^[\s-]*(?:(?:{_ITEMS}|{_KIND_NOUNS})\s+)?(?:{_alt(_data_words('allowance', 'after'))}"
    r"|(?:would|could|should|will|might|may|can|d|ll)\s+(?:(?:also|actually|probably|totally|honestly|really)\s+)?be\s+"
    rf"(?:(?:also|totally|perfectly|actually)\s+)?(?:{_alt(_data_words('allowance', 'be_adjectives'))}))\b(?!\s+as\b)"
    r"|^\s*(?:(?:too|as well|also)\s*)?[,;:-]+\s*(?:honestly\s+|really\s+|actually\s+)?"
    rf"(?:{_alt(_data_words('allowance', 'after_clause'))})(?=\s*(?:[,.;!?]|$))"
)
"""After a category: it is fine ("horror is fine", "drama would work too")."""
_ALLOW_BEFORE = re.compile(
    rf"\b(?:{_alt(_data_words('allowance', 'before'))})\s+(?:some\s+|a\s+little\s+|a\s+bit\s+of\s+|a\s+|an\s+)?$"
)
_NEG_AFTER = re.compile(
    rf"^[\s-]*(?:(?:{_ITEMS}|{_KIND_NOUNS})\s+)?(?:(?:{_alt(_data_words('negation', 'after_adverbs'))})\s+){{0,2}}"
    rf"(?:{_alt(_data_words('negation', 'after'))})\b(?!\s+(?:of|from|there|here|yet|today|lately|recently)\b)"
    rf"|^\s*[?!.,]*\s*(?:{_alt(_data_words('negation', 'after_exclaim'))})\b"
    r"(?=\s*(?:[.!?,;]|$|(?:haha|hahaha|lol|lmao|thanks|thank you|pls|please|mate|x)\b))"  # not "X, definitely not Y"
    r"|^\s*(?:(?:on|at|to|for)\s+(?:me|us|him|her|them)\s*)?[,.;!?-]*\s*(?:none|no more|enough)\s+of\s+(?:that|those|it|them)\b"
    r"|^[\s-]*(?:(?:is|are|stays?|goes|go)\s+)?(?:out\s+of|off|away\s+from)\s+(?:the|my|our|your|this|these|those|any)\s+"
    rf"(?:\w+\s+)?(?:{_ITEMS}|{_alt(_data_words('negation', 'out_of_places'))})\b"
    rf"|^[\s,-]*(?:(?:though|tho|then)\b[\s,-]*)?(?:(?:{_alt(_data_words('negation', 'after_adverbs'))})\s+){{0,2}}"
    rf"(?:{_alt(_data_words('negation', 'after_clause_end'))})(?=\s*(?:[,.;!?]|$))"
)
"""After a category: it is out ("horror is out", "keep horror out of it", "gore-free")."""
_CARRY_BEFORE = re.compile(
    rf"(?:^|[,.;!]|\b(?:and|plus)\b)\s*(?:(?:and|oh|plus|also)\s+)?(?:{_alt(_data_words('negation', 'carry_before'))})"
    r"\s+(?:(?:the|any|all|a|an)\s+)?$"
)
"""Between a category and the next: the next is said the same of ("horror is a no, and so is drama")."""
_CARRY_AFTER = re.compile(
    rf"\s*(?:{_alt(_data_words('negation', 'carry_after'))})(?=\s*(?:[,.;!?]|$|thanks\b|thank you\b))"
)
"""After a category on its own in a clause: it is said the same of as the one before ("horror is out, war too")."""
_RX_RELATIVE_REFUSAL = re.compile(
    r"\s*(?:are|were|is|was|re|s)\s+(?:just\s+|simply\s+)?(?:the|my|our|his|her|their)\s+(?:\w+\s+)?"
    rf"(?:{_alt(_data_words('negation', 'relative_heads'))})\s+(?:(?:that|which)\s+)?"
    r"(?:i|we|he|she|they|my \w+|our \w+)\s+(?:(?:really|just|honestly|always|simply|totally|truly)\s+)?"
    rf"(?:{_alt(_data_words('negation', 'before') | _data_words('negation', 'relative_refusals'))})\b"
)
"""After a category: it is what a person refuses ("... are the two things i never liked")."""
_NEG_BEFORE_RX = re.compile(
    rf"\b(?:{_alt(_data_words('negation', 'before'))})\s*[:-]?\s+(?:\w+\s+){{0,2}}"
    r"(?:(?:that|which)\s+(?:is|are)\s+(?:also\s+)?)?$"
)
"""Before a category, up to two words between: it is out ("I can't stand horror")."""
_PEOPLE = _words(_EN.raw, "people", "agent/data/lang/en.yaml")
_POSSESSIVES = _words(_EN.raw, "possessives", "agent/data/lang/en.yaml")
"""People a message may mention, and the possessives before them ("my kids", "our friends")."""
_PEOPLE_OWNING = with_possessives(_PEOPLE)
"""People in the possessive, before whom they own ("my neighbours kids", "my sister's kids")."""
_ALL_ANYWHERE = re.compile(rf"\b(?:{_alt(_data_words('combination', 'anywhere'))})\b")
_ALL_BETWEEN = re.compile(rf"\b(?:{_alt(_data_words('combination', 'between'))})\b(?!\s+of\b)")
_LIST_NOT_ITEM = re.compile(rf"\b(?:{_alt(_data_words('combination', 'list_not_item'))})\b")
_ALL_EITHER = re.compile(
    rf"\b(?:{_alt(_data_words('combination', 'either'))})\b"
    r"|\b(?<!\bwhy )(?:dont|doesnt|do not|does not|neednt|need not|not|wont|shouldnt|no need for (?:them|it|each|every one))"
    r"\s+(?:\w+\s+){0,3}?(?:be\s+)?both\b(?!\s+(?:of|or)\b)"  # "they dont each have to be both"
)
"""The categories already asked need not all be met at once ("either is fine")."""


_BOTH_PLEASE = re.compile(rf"\b(?:{_alt(_data_words('combination', 'both_leads'))})\s+(?:them\s+)?both\b")
"""Both asked for after the options were named ("crime or film-noir... why not both?"): all at once, even
with an "or" between them."""


def asks_all_anywhere(norm: str) -> bool:
    """A cue anywhere in the message asks for every named category at once; phrases about the list
    ("mixed together in one list", "a mix: some X, some Y") are no such cue, and none counts where the
    message says all at once is not needed ("doesnt need to be both in one")."""
    if _ALL_EITHER.search(norm):
        return False
    norm = re.sub(r"\b(?:a\s+)?half(?:\s+a)?\s+dozen\b", " ", norm)  # a count, not "half X half Y"
    return _ALL_ANYWHERE.search(_LIST_NOT_ITEM.sub(" ", _RX_LIST_MIX.sub(" ", norm))) is not None


_RX_LIST_MIX = re.compile(r"\b(?:a\s+)?mix(?:ed bag)?(?=\s*[:,-])")
"""A mixed list announced before its parts ("show me a mix: some X, some Y")."""


_CLEAR_AGE = re.compile(
    r"\b(?:(?:doesnt|does not|dont|do not)\s+(?:really\s+)?(?:have|need)\s+to\s+be|neednt be|need not be|not necessarily)"
    r"\s+(?:that\s+|so\s+|too\s+|all\s+that\s+|an?\s+)?(?:old|older|classic|classics|vintage|recent|new|newer|modern)\b"
    r"|\b(?:old or new|new or old|old or recent|recent or old|new or classic|any age|whatever age)\b"
    r"|\b(?:the\s+)?(?:older|old|earlier|newer|new|recent|more recent|modern|vintage)\s+(?:ones|stuff|items|titles|picks)?\s*"
    r"(?:are|is|would be|can be|will be)\s+(?:also\s+)?(?:fine|ok|okay|good|welcome|allowed|acceptable|cool)\s+"
    r"(?:too|as well|also)\b"  # "recent ones... actually older ones are fine too": any age now
    r"|\b(?:they|it|these|those|the ones|ones|them)\s+(?:can|may|could|are allowed to|is allowed to|get to)\s+(?:also\s+)?be\s+"
    r"(?:a bit\s+|a little\s+|kind of\s+|kinda\s+)?(?:old|older|classic|classics|vintage|recent|new|newer|modern)\b"
    r"|\b(?:dont|do not|wouldnt|would not)\s+mind\s+(?:them\s+being\s+|if theyre\s+|if they are\s+)?"
    r"(?:old|older|vintage|recent|newer|modern)(?:\s+(?:ones|stuff|items|titles|picks))?\b"  # permission, not a wish
)
"""A relative age taken back or any age ("it doesnt have to be old", "old or new"): the period goes."""
_RESET_KEEP = re.compile(r"\b(?:except|apart from|other than|besides|save for|but keep|keep only|only keep)\b")
"""A reset that keeps part of what was asked ("forget all that except the western bit")."""
_ALL_FOLLOW_UP_MODAL = re.compile(
    r"\b(?:(?:have|has|need|needs|must|should|got|gotta|ought)\s+(?:(?:all|each|also|really)\s+)?(?:to\s+)?be"
    r"|make\s+(?:them|em|it|those|these|the list)(?:\s+all)?"
    r"|(?:want|like|love|prefer|need|wish|expect)\s+(?:them|em|it|those|these|the ones|all of them|each of them)"
    r"(?:\s+(?:all|also))?\s+to\s+be"
    r"|make\s+sure\s+(?:they|theyre|those|these|the ones|its|it)(?:\s+(?:are|r|re|is))?(?:\s+(?:all|also))?"
    r"|(?:ones|those|them|the ones)\s+(?:that|which|thats)(?:\s+(?:are|is|r))?"
    r"|(?:can|could|may)\s+(?:they|these|those|the ones|it)\s+(?:all\s+|also\s+)?be)\s+(?:\w+\s+)?$"
)
_ALL_FOLLOW_UP_TOO = re.compile(r"^\s*(?:too|as well|aswell|also)\b")
"""A later message's "they have to be X too", "only ones that are X as well": the asked categories and X at once."""
_ALL_FOLLOW_UP = re.compile(rf"\b(?:{_alt(_data_words('combination', 'follow_up'))})\s+(?:\w+\s+){{0,1}}$")
"""Cues that ask for every named category at once (see ``combination`` in the language file); ``follow_up``
right before a category a later message adds ("they also have to be X")."""

_DECADE_WORDS = _EN.decade_words
_DEC = r"(?:(early|mid|late|(?:the\s+)?(?:very\s+)?(?:end|start|beginning|middle)\s+of(?:\s+the)?)[\s-]*)?(?:(1[89]\d0|20\d0)s|(\d)0s|(twenties|thirties|forties|fifties|sixties|seventies|eighties|nineties))"
_YEAR = r"(1[89]\d\d|20\d\d)(?!s\b)"  # "1980s" is a decade, not the year 1980
_YEAR_OR_DEC = rf"(?:the\s+)?(?:{_YEAR}|{_DEC})"
_RX_RANGE = re.compile(
    rf"\b(?:between|from)\s+{_YEAR_OR_DEC}\s*(?:and|to|through|until|till|-)\s*{_YEAR_OR_DEC}|\b{_YEAR_OR_DEC}\s*(?:-|to|through|until|till)\s*{_YEAR_OR_DEC}"
)
_NOW = r"(?:now|today|the present(?:\s+day)?|present day|these days|nowadays|the current day|this year|date)"
_RX_UNTIL_NOW = re.compile(
    rf"\b(?:between|from)\s+{_YEAR_OR_DEC}\s*(?:and|to|until|till|through|-)\s*{_NOW}\b"
    rf"|\b(?:from\s+)?(?<!\bbetween ){_YEAR_OR_DEC}\s*(?:(?:right\s+|all\s+the\s+way\s+)?up\s+(?:to|until|till|through)|to|until|till|through|-)\s*{_NOW}\b"
)
"""A period up to now: "between the 30s and now", "from 1971 up to today" (a lower bound only)."""
_ON_OR_AFTER = _words(_EN.raw, "year_on_or_after", "agent/data/lang/en.yaml")
_ON_OR_BEFORE = _words(_EN.raw, "year_on_or_before", "agent/data/lang/en.yaml")
_TAIL = rf"(?:{_alt(_ON_OR_AFTER | _ON_OR_BEFORE)})\b(?!\s+or\s+minus)|\+"
_RX_CMP = re.compile(
    rf"\b(before|prior to|earlier than|older than|pre|up to and including|up to and incl|up to and through|through|thru|until|till|up to|up until|no later than|after|since|later than|newer than|more recent than|younger than|beyond|past|post|from|in|no earlier than|starting|starting in|circa)\s*-?\s*{_YEAR_OR_DEC}(\s*(?:{_TAIL}))?"
)
_RX_YEAR_TAIL = re.compile(
    rf"\b{_YEAR_OR_DEC}\s*((?:{_alt(_ON_OR_AFTER - {'on'})})\b(?!\s+or\s+minus)|\+)|\b{_YEAR_OR_DEC}\s*((?:{_alt(_ON_OR_BEFORE)})\b)"
)
"""A year with a tail and no word before it: "1990 or later", "1985 or earlier", "1990+"."""
_RX_DECADE = re.compile(rf"\b{_DEC}")
_RX_YEAR = re.compile(rf"\b{_YEAR}\b")
_RX_RECENT = re.compile(
    rf"\b(recent|latest|newest|modern|contemporary|new releases|new (?:{_ITEMS})|newer releases|"
    r"(?:came|come|comes|coming) out (?:recently|lately)|(?:released|out) (?:recently|lately)|recently (?:released|out)|"
    r"whats new|what is new|anything new out|"
    r"(?:the\s+)?(?:last|past|previous)\s+(?:(?:few|couple(?: of)?|several|\d{1,2}|two|three|four|five|ten)\s+)?(?:years?|decade))\b"
)
_RX_CLASSIC = re.compile(
    rf"\b(classics?|golden age|vintage|black and white|oldies|old school|old fashioned|old (?:{_ITEMS}|stuff|classics))\b|\bsomething old\b|\bold\b(?!\s+(?:is|are|was)\b)"
)
_TALK_SAYS = _alt(_data_words("talk_time", "says"))
_TALK_WHENS = _alt(_data_words("talk_time", "whens"))
_RX_TALK_TIME = re.compile(
    rf"\b(?:{_TALK_SAYS})\b[^.,;!?]{{0,60}}?\b(?P<when>{_TALK_WHENS})\b(?!\s+(?:than\s+)?(?:the\s+)?(?:\d|'\d|[a-z]+ties\b))"
    rf"|\b(?P<lead>{_TALK_WHENS})\s*,?\s*(?=(?:{_TALK_SAYS})\b)"
)
"""Conversation time ("i said no X earlier", "earlier you showed me"): the ``when`` or ``lead`` word is no period."""
_RX_OLDER = re.compile(r"\b(older|earlier|less recent|from before|not as new|not so new|older ones)\b")
_RX_NEWER = re.compile(r"\b(newer|more recent|more modern|later ones|not as old|not so old|less old|fresher)\b")

_MONEY = r"(?:[$€£]\s*(\d+(?:\.\d+)?)|(\d+(?:\.\d+)?)\s*(?:[$€£]|dollars?|bucks|usd|eur|euros?|pounds?|gbp))"
_RX_PRICE_RANGE = re.compile(rf"\b(?:between|from)?\s*{_MONEY}\s*(?:and|to|-)\s*{_MONEY}")
_RX_PRICE_CMP = re.compile(
    rf"\b(under|below|less than|cheaper than|at most|max|maximum|up to|no more than|within|over|above|more than|at least|min|minimum|from|around|about|roughly|approximately|for)\s*{_MONEY}"
)
_RX_CHEAP = re.compile(r"\b(cheap|cheaper|inexpensive|budget|affordable|low cost|bargain)\b")
_RX_PRICE_ANY = re.compile(_MONEY)

_RX_TOP_N = re.compile(rf"\b(?:top|best)[\s-]*{_NUM}\b")
_RX_N = re.compile(
    rf"(?<!\bin )(?<!\bevery )(?<!\bevry )(?<!\beach )(?<!\bany )\b{_NUM}(?=\s+(?:(?:more|good|great|other|new|different|old|older|recent|similar|fun|[a-z]+(?:-[a-z]+|'s)?|(?:19|20)?\d0s)\s+){{0,3}}(?:{_ITEMS}|ones|things|choices|shows|classics|oldies|picks|recs)\b"
    r"|(?:\s+more)?\s+(?:like|similar to)\s+(?:it|that|this|that one|this one|them|those|these)\b)"
)
_RX_ONE = re.compile(
    rf"(?<!\bnot )\b(?:just|only)\s+(?:one|1)\b(?!\s+(?:of|or|and)\b)|(?<!\bin )\b(?:one|1|a single)\s+(?:good\s+)?(?:{_ITEMS})\b(?<!s)"
)
"""One item: "just one", "a single movie"; not "not just one of them" (a wish for several), nor "both in one
movie" (one item with both), nor "X and Y combined, like one movie thats both" (what each item is)."""
_RX_N_PLEASE = re.compile(
    rf"(?:^|[,.;:!?]\s*|\band\s+)(?:just\s+|only\s+)?{_NUM}\s*,?\s*(?:please|pls|plz|thanks|thx)\b"
)
"""A bare count with a please, at the start of a sentence: "9 please, not too old", "westerns. 4 pls"."""
_RX_SHOW_N = re.compile(
    rf"\b(?:show|give|get|find|recommend|suggest|list|pick|(?:i |we )?(?:only |just )?(?:want|need)|"
    rf"(?:id|wed|i would|we would|ill|i will|we will)\s+(?:like|love|take|have|want|need)|make (?:it|that|them|the list)|"
    rf"(?:cut|narrow|trim|whittle|bring|get) (?:it|that|them|the list) down to|(?:reduce|shorten) (?:it|that|them|the list) to|change (?:it|that) to|bump (?:it|that) (?:up )?to|limit (?:it|that|them|the list) to|cap (?:it|that|them|the list) at|lower (?:it|that) to|keep (?:it|that|them|the list) (?:to|at)|stick to|hold it at)\s+(?:me\s+|us\s+)?(?:the\s+)?(?:top\s+)?{_NUM}\b(?!\s*(?:stars?|/|%|more|\d|st\b|nd\b|rd\b|th\b|of\b))"
)
"""A bare count after a request verb: "comedies, show me 10"."""
_EXPERIENCED = "".join(rf"(?<!\b{w} )" for w in sorted(_words(_EN.raw, "one_of_these_after", _EN_FILE)))
"""Lookbehinds: "never used one of these before", "i have one of those": a thing of that kind, not a count."""
_RX_N_OF = re.compile(
    rf"(?<!\bnot )(?<!\bif )(?<!\bwhen )(?<!\bin case ){_EXPERIENCED}\b(?:(?:just|only)\s+)?(?<!\bnot just )(?<!\bnot only )"
    rf"{_NUM}\s+of\s+(?:them|those|these|em|it|that kind|this kind|that sort|this sort)\b"
    rf"|(?<!\bnot )\b(?!one\b){_NUM}\s+(?:of\s+(?:anything|something|any other kind|whatever)|others|other ones)\b"
    rf"|(?<!\bnot )\b(?:(?:just|only)\s+)?(?<!\bnot just )(?<!\bnot only )(?!one\b){_NUM}\s+of\s+the\b(?=\s+(?:very\s+)?"
    rf"(?:latest|newest|best|top|oldest|most recent|greatest|finest)\s+(?:[a-z-]+\s+){{0,2}}(?:{_ITEMS})\b)"
    rf"|(?<!\bnot )\b(?:just|only)\s+{_NUM}\b(?!\s*(?:stars?|/|%|\d|of\b|or\b))"
    rf"|\b(?:maybe|perhaps|around|roughly|approximately|approx|like|say)\s+{_NUM}\b(?:\s*(?:or so|ish))?"
    r"(?=\s*(?:[?.!,;]|$|(?:please|pls|thanks|thx|would be (?:nice|good|great|fine))\b))"
    rf"|\b{_NUM}\s+(?:maybe|perhaps|or so|ish)\b(?=\s*(?:[?.!,;]|$))"
)
"""A count: "10 of them", "give me 4 of it", "just 5", "maybe 5?"; not "not just one of them" ("one of them is enough": see n_pass), nor "if one
of them is X" (a condition on the list)."""
_RX_N_SET = re.compile(
    r"\b(?:change|set|make|switch|put|bump|raise|lower|increase|decrease|reduce|up|cut)\s+(?:the\s+)?"
    r"(?:count|number|amount|total|list length|length|list size|size)(?:\s+of\s+(?:them|results|picks))?\s+"
    rf"(?:(?:up\s+|down\s+)?(?:to|at|into)\s+)?{_NUM}\b(?!\s*(?:stars?|/|%|\d))"
    rf"|\b(?:the\s+)?(?:count|number|amount|total)\s+(?:should be|must be|can be|is|of|at|to|becomes?|switch(?:ed)? to|changed to)\s+{_NUM}\b(?!\s*(?:stars?|/|%|\d))"
)
"""A count set by naming it: "change the count to 12", "make the number 12", "number switch to 12"."""
_RX_N_ENOUGH = re.compile(
    rf"(?:^|[,.;:!?]\s*|\b(?:ok|okay|actually|maybe|just|only|so|and|but|hmm|then|now)\s+){_NUM}\s+"
    r"(?:(?:is|are|would be|will be|should be)\s+(?:(?:more than|quite|probably)\s+)?(?:enough|plenty)|will do|should do|would do"
    r"|would be (?:great|good|nice|perfect|ideal|lovely|awesome)|(?:please|pls|plz)(?=\s*(?:[.!]|$)))"
)
"""A bare count at the start of a clause: "11 is enough", "ok 6 will do", "13 would be great", "..., 9 please"."""
_RX_N_UNLIMIT = re.compile(
    rf"\b(?:no need to|(?:i |we )?(?:dont|do not|doesnt|does not) (?:need to|have to)|(?:dont|do not|neednt|need not)|"
    rf"stop|you can stop|no point)\s+(?:limit|limiting|cap|capping|restrict|restricting|keep|keeping|stop|stopping|stick|sticking|stay|staying)\s+"
    rf"(?:(?:it|them|the list|that|this|us|me)\s+)?(?:to|at)\s+(?:just\s+|only\s+)?{_NUM}\b"
    r"|\b(?:any (?:amount|number|count|length|quantity|list length)|as many as (?:you (?:like|want|have|can)|possible)|"
    r"no (?:limit|cap|maximum|max) on (?:how many|the number|the count|numbers|the amount|quantity)|unlimited|"
    r"however many|(?:the )?number (?:doesnt|does not|dont) matter|"
    r"(?:the )?(?:usual|default|normal|standard|regular) (?:amount|number|count|length|list length|list size|size))\b"
)
"""A count taken back, or any list length: "no need to limit it to 14", "dont cap it at 5", "any amount"."""
_RX_N_MAX = re.compile(
    rf"\b(?:max(?:imum)?|at most|at the most|no more than|not more than)\s+{_NUM}\b(?!\s*(?:stars?|/|%|\d))"
    rf"|(?<!\bin )\b{_NUM}\s+(?:max|maximum|at most|at the most|tops|total|in total|altogether|all up)\b"
)
"""A cap on the list: "2 max", "at most 5", "no more than 4 please"."""
_RX_N_MORE = re.compile(rf"\b(?:show|give|find|recommend|suggest)?\s*(?:me\s+)?{_NUM}\s+more\b")

_CUE_TRIGGER_WORDS = re.compile(
    r"\b(similar to|such as|(?:along|on|in) the lines? of|in the (?:style|vein|spirit) of|reminds? me of|same as|comparable to|"
    r"(?:close|closest|closer|related|akin|equivalent|alike|nearest) to|in the same (?:vein|league|mould|mold) as|"
    r"as good as|my favou?rite|if i (?:liked|loved|enjoyed)|what else|anything else|but|without|except|anything|nothing|"
    r"i (?:really )?(?:like|love|liked|loved|enjoyed)|please)\b"
)
_QUERY_STOP = STOP | lexicon().query_stop | frozenset(all_item_nouns())
_QUERY_CUES = re.compile(rf"\b(?:{_alt(_data_words('query', 'cues'))})\b")
"""Phrases that are never query words ("as long as", "came out", "if possible")."""
_NEG_BEFORE_ANY = re.compile(rf"\b(?:{_alt(_data_words('negation', 'before'))})\b")
_ALLOW_ANY = re.compile(rf"\b(?:{_alt(_data_words('allowance', 'before') | _data_words('allowance', 'after'))})\b")
_CUES = (
    _QUERY_CUES, _NEG_BEFORE_ANY, _ALLOW_ANY, _ALL_ANYWHERE, _ALL_BETWEEN,
    _COMPARE, _EXPLAIN, _DESCRIBE, _LIKE_FB, _DISLIKE_FB, _NOTINT_FB, _MORE_LIKE, _RATING, _GREET, _THANKS, _HELP,
    _RESET, _RESET_ALL, _DROP_THE_REST, _COND_REFUSAL, _ANAPHORIC, _UNDO, _DIV_UP, _DIV_DOWN, _MORE_ITEMS, _FRESH, _REPLACE, _CLEAR_REFS, _MEMORY_VIEW, _MEMORY_CLEAR,
    _CUE_TRIGGER_WORDS, _CORRECTION_CUE,
)  # fmt: skip


def cue_words() -> frozenset[str]:
    """Every word the cue patterns of this module read ("dislikes", "forget", "vs"): a message word that is
    one of them is never respelt (:meth:`agent.understanding.vocab.CatalogVocab.respell`)."""
    out: set[str] = set()
    for value in globals().values():
        if isinstance(value, re.Pattern):
            text = re.sub(r"\\[a-zA-Z]", " ", value.pattern)  # \b, \s, \d are syntax, not words
            out.update(w for w in re.findall(r"[a-z]+", text) if len(w) >= 2)
    return frozenset(out)
