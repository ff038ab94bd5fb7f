"""`python -m visionyard.training --config cfg.json [--set k=v]`: the entry point agents spawn."""

from visionyard.cli import app

if __name__ == "__main__":
    import sys

    app(args=["train", *sys.argv[1:]], prog_name="python -m visionyard.training")
