"""The Hugging Face Trainer: freeze before building it, then the callback runs the schedule and guards.

Run:  python examples/hf_trainer_finetune.py     (pip install 'freezekit[hf]'; a tiny random Llama, offline)
"""
import tempfile

import torch
from transformers import LlamaConfig, LlamaForCausalLM, Trainer, TrainingArguments

from freezekit.integrations.transformers import FreezeCallback

CONFIG = {
    "rules": [{"freeze": ["model.embed_tokens", "model.layers"]}],  # train the final norm and lm_head first
    "optimizer": {"weight_decay": 0.1},  # the groups a stage adds: no decay on norm weights (1-D)
    "stages": [{"at": 2, "unfreeze": "model.layers.1", "lr_scale": 0.5}],
    "unit": "step",
}

torch.manual_seed(0)
model = LlamaForCausalLM(LlamaConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=4,
                                     num_key_value_heads=2, vocab_size=64, max_position_embeddings=64))
callback = FreezeCallback(CONFIG)
callback.prepare(model)  # before the Trainer: it builds its optimizer from the trainable parameters
rows = torch.randint(0, 64, (8, 6))
with tempfile.TemporaryDirectory() as out:
    args = TrainingArguments(output_dir=out, max_steps=4, per_device_train_batch_size=2, learning_rate=1e-2,
                             logging_steps=2, save_strategy="no", report_to=[], use_cpu=True, disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=[{"input_ids": r, "labels": r} for r in rows],
                      callbacks=[callback])
    trainer.train()  # at the end: the frozen tensors are bit-identical, else VerifyError names them
logged = [(h["step"], h["trainable_params"]) for h in trainer.state.log_history if "loss" in h]
assert logged == [(2, 1040), (4, 3376)]
print(f"trainable: {logged[-1][1]}")
