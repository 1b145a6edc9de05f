"""Transfer learning with freezekit: freeze, train, and see the autograd facts it relies on.

Run:  python examples/train_loop.py
"""
import torch
import torchvision

import freezekit

torch.manual_seed(0)
model = torchvision.models.resnet18(num_classes=10)  # pretrained: weights=ResNet18_Weights.DEFAULT

# 1. Freeze declaratively: everything up to and including layer3; frozen BatchNorm stays in eval mode.
report = freezekit.freeze(model, rules=["through:layer3"], batchnorm="eval",
                          expect={"trainable": 8398858})
report.print(depth=1)

# 2. Give the optimizer only what trains, and let freezekit check the optimizer.
optimizer = torch.optim.SGD(freezekit.trainable_parameters(model), lr=0.01, momentum=0.9, weight_decay=1e-4)
assert freezekit.audit_optimizer(model, optimizer).ok

frozen_bn = model.layer1[0].bn1
stats_before = frozen_bn.running_mean.clone()

# 3. Train. requires_grad=False means backward() leaves .grad None on frozen parameters
#    and saves no activations for operations whose inputs need no gradient.
loss_fn = torch.nn.CrossEntropyLoss()
for step in range(2):
    model.train()  # frozen BatchNorm layers stay in eval mode (policy "eval")
    x, y = torch.randn(4, 3, 64, 64), torch.randint(0, 10, (4,))
    loss = loss_fn(model(x), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    assert model.conv1.weight.grad is None  # frozen: autograd computed nothing for it
    assert model.fc.weight.grad is not None  # trainable: populated by backward()
    optimizer.step()
    print(f"step {step}: loss {loss.item():.4f}")

assert torch.equal(frozen_bn.running_mean, stats_before), "frozen BatchNorm statistics moved"

# 4. Evaluate without building a graph at all.
model.eval()
with torch.no_grad():  # or torch.set_grad_enabled(False)
    logits = model(torch.randn(2, 3, 64, 64))
assert not logits.requires_grad

print("trainable:", freezekit.count(model).trainable)
