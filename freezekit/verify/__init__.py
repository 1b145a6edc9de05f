"""verify: real training steps on the built model, and what they prove (result.py is data, runner.py runs)."""
