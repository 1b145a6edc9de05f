"""Distributed checks: a per-rank memory plan and the FSDP unit pre-flight (pure, from the inventory),
and real DDP / FSDP2 runs on a process group (torch, launched on demand).

    memory_plan.py  bytes per rank of parameters, gradients and optimizer state: the formulas (pure)
    plan_of.py      the plan for any --strategy: an engine preset's module, else the formulas (pure)
    deepspeed_plan.py  --strategy deepspeed-zero3: DeepSpeed ZeRO-3 as it allocates (pure)
    zero3_gather.py  the most parameters ZeRO-3 gathers at once, its coordinator replayed (pure)
    precision.py    bytes per element of each part under --precision/--param-dtype; quantized bases (pure)
    activation_forecast.py  count --activations: the meta forward (hooks in adapter/activations.py)
    units.py        which FSDP unit holds which parameter; mixed units under FSDP1 (pure)
    launch.py       N real processes, one process group, timeouts, every child reaped
    loopback.py     the spawned ranks' store: 127.0.0.1, its port held from pick to use
    lifetime.py     ranks die with the launcher (parent-death signal, a pipe) and after their timeout
    forkserver_guard.py  the fork server's first preload: it dies with the launcher too
    job_env.py      --ddp env: the launcher's job (torchrun, srun) read from the environment (pure)
    join.py         --ddp env: one rank of that job; rank 0 gathers, reports, and sends the verdict
    worker.py       one rank: build, freeze, wrap, train, measure
    ddp_check.py    DistributedDataParallel wrapping and the step loop
    fsdp_check.py   FSDP2 fully_shard wrapping
    measure.py      local tensor bytes and digests on one rank
    run.py          the parent: plan, launch, compare ranks, build the result
    results.py      what a run is asked and what it found (plain data)
    sections.py     what `count --shard-by/--fsdp-flat/--memory-plan` adds to the report
    render.py       tables, JSON and Markdown for the above
    wrap_guard.py   refuse freezing a model already wrapped; names without the wrappers' prefixes
"""
