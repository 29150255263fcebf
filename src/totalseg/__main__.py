from totalseg.cli import run

run()
