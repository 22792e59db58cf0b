"""irtoy.nn: layers, losses, optimizers and a Model whose training step is one compiled graph.

    from irtoy import nn
    net = nn.Sequential([nn.Flatten(), nn.Dense(784, 100), nn.ReLU(), nn.Dense(100, 10)])
    model = nn.Model(net, loss=nn.SoftmaxCrossEntropy(), optimizer=nn.Adam(lr=1e-3))
    model.fit(x, y, epochs=5, batch_size=128)

Everything here is written with NumPy calls on irtoy tracers (the public tracing API), so
its gradients come from irtoy's autodiff pass and it runs on any backend.
"""
from irtoy.nn import activations, datasets, initializers, schedules
from irtoy.nn.conv import AvgPool2D, Conv2D, ConvTranspose2D, MaxPool2D
from irtoy.nn.layers import (Activation, BatchNorm, Context, Dense, Dropout, Embedding, Flatten, Layer, LeakyReLU,
                             ReLU, Reshape, Residual, Sequential, Sigmoid, SimpleRNN, Softmax, Softplus, Tanh)
from irtoy.nn.losses import MAE, MSE, Hinge, Huber, Loss, SigmoidCrossEntropy, SoftmaxCrossEntropy, l1_penalty, l2_penalty
from irtoy.nn.model import Model
from irtoy.nn.optimizers import SGD, Adam, Optimizer, RAdam, RMSProp
from irtoy.nn.schedules import Constant, Cosine, ExponentialDecay, StepDecay
