"""Image models: output shapes, heads, parameter counts; one dense training epoch on a fixture."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader

from regcls.models.vision import DepthEncoderDecoder, ResNetRegressor


@pytest.mark.parametrize(("depth", "features"), [(18, 512), (50, 2048)])
def test_resnet_regressor_heads(depth, features):
    torch.manual_seed(0)
    model = ResNetRegressor(depth, num_classes=7).eval()
    reg, logits = model(torch.randn(2, 3, 32, 32))
    assert reg.shape == (2,) and logits.shape == (2, 7)
    assert model.reg.in_features == features and model.cls.weight.shape == (7, features)
    plain = ResNetRegressor(depth).eval()
    assert plain.cls is None and plain(torch.randn(1, 3, 32, 32))[1] is None


def test_depth_model_shapes_and_size():
    torch.manual_seed(0)
    small = DepthEncoderDecoder(18, num_classes=10).eval()
    depth, logits = small(torch.randn(2, 3, 48, 64))
    assert depth.shape == (2, 24, 32)  # half resolution, like Hu et al.
    assert logits.shape == (2, 10, 48, 64)  # 2x2 transposed conv doubles the decoder grid
    big = DepthEncoderDecoder(50)
    millions = sum(p.numel() for p in big.parameters()) / 1e6
    assert 60 < millions < 75  # Hu et al.'s ResNet-50 model has ~67M parameters
    depth, logits = big.eval()(torch.randn(1, 3, 32, 32))
    assert depth.shape == (1, 16, 16) and logits is None


def test_bad_arguments():
    with pytest.raises(ValueError, match="depth: must be one of"):
        ResNetRegressor(34)
    with pytest.raises(ValueError, match="num_classes"):
        DepthEncoderDecoder(18, num_classes=-1)


def test_depth_model_trains_one_epoch_on_the_nyu_fixture(tmp_path):
    from regcls.data.binning import make_binning
    from regcls.data.datasets.fixtures import write_nyud2_fixture
    from regcls.data.datasets.nyud2 import Nyud2Dataset
    from regcls.training.epochs import EpochSettings, predict, train_epochs

    write_nyud2_fixture(tmp_path)
    size = (24, 32)
    train = Nyud2Dataset(tmp_path, "train", img_size=size)
    test = Nyud2Dataset(tmp_path, "test", img_size=size)
    depth_train = torch.cat([train[i][1].flatten() for i in range(len(train))]).numpy()
    binning = make_binning(depth_train[depth_train > 0], 10, balanced=True)
    torch.manual_seed(0)
    model = DepthEncoderDecoder(18, binning.num_classes)
    loader = DataLoader(
        train, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    settings = EpochSettings(epochs=1, lr=1e-4, accumulate=2, select_metric="rmse")
    result = train_epochs(model, loader, DataLoader(test, batch_size=2), settings, binning)
    assert result.status == "ok" and result.best_epoch == 1
    pred, target = predict(model, DataLoader(test, batch_size=2))
    mask_pixels = sum(int(test[i][2].sum()) for i in range(len(test)))
    assert pred.shape == target.shape == (mask_pixels,)  # only the balanced-mask pixels count
