"""Callbacks for the trainers people use; each module imports its trainer, so import only the one you use:

from freezekit.integrations.lightning import FreezeCallback      # pip install 'freezekit[lightning]'
from freezekit.integrations.transformers import FreezeCallback   # pip install 'freezekit[hf]'
"""
