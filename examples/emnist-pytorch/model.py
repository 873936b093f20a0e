"""The seed's EMNIST network: two convolutions with max-pooling, then a dense layer.

Narrower than the seed's (8 and 16 filters, 64 units) so that it trains in seconds on a
busy CPU; widen it for real EMNIST."""
from torch import nn


class EMNIST(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(16 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, classes))

    def forward(self, x):
        return self.classifier(self.features(x))
