"""The one exception users see: a one-line headline the CLI prints before exiting 1."""


class PipelineError(Exception):
    """A problem the user can fix (bad configuration, bad input, missing deploy outputs).

    The message is a single line that names the file, field or limit at fault and, where it
    helps, what to do. Anything else that escapes is an internal error and keeps its traceback.
    """

    def __init__(self, headline: str):
        super().__init__(headline)
        self.headline = headline

    def __str__(self) -> str:
        return self.headline
