"""From the freeze to the optimizer and the trainer (imports torch: only on the paths that train).

param_groups.py  optimizer parameter groups from the config's `optimizer:` section
schedule.py      gradual unfreezing: the config's `stages:`, applied at each epoch or step
guard.py         digests of the frozen tensors, checked while training
session.py       what the trainer callbacks share: rules, schedule, logging and the guard
"""
