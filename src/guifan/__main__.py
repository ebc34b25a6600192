from guifan.cli import app

app()
