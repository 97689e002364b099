from accessward.cli import app

app()
