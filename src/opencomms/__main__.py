from opencomms.cli.main import app

app()
