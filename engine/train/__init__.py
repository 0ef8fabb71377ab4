"""Training loops for the built-in model (`kinema train MODEL`).

Each module offers `add_arguments(parser)` and `run(args) -> int` for the command line.
Checkpoints and logs go to the user's cache folder, never into the repository; exported
weights are safetensors plus a JSON config for `assets/models/builtin/`.
"""
