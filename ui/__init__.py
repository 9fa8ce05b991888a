"""trustrec user interfaces: the CLI, the Gradio app and the HTTP API. Nothing imports ui."""
