"""Torch-style model definitions written once against a ``torch`` namespace and built with
fastdl in its place: a seq2seq ``nn.Transformer``, a super-resolution net with
``PixelShuffle``, a text classifier with ``EmbeddingBag``, a CTC speech model, a
spectral-normalised GAN discriminator and a 3-D CNN. Each loads the PyTorch model's state
dict and must match one SGD training step (loss, and every parameter and buffer after the
step) in float64."""
import numpy as np
import pytest

import fastdl
from fastdl.testing import assert_close


def _seq2seq(torch):
    nn = torch.nn

    class Seq2Seq(nn.Module):
        def __init__(self, vocab=11, d=16):
            super().__init__()
            self.src_emb = nn.Embedding(vocab, d)
            self.tgt_emb = nn.Embedding(vocab, d)
            self.transformer = nn.Transformer(d_model=d, nhead=2, num_encoder_layers=2,
                                              num_decoder_layers=2, dim_feedforward=32,
                                              dropout=0.0, batch_first=True)
            self.out = nn.Linear(d, vocab)

        def forward(self, src, tgt):
            mask = nn.Transformer.generate_square_subsequent_mask(tgt.shape[1],
                                                                   dtype=torch.float64)
            h = self.transformer(self.src_emb(src), self.tgt_emb(tgt), tgt_mask=mask)
            return self.out(h)

    def loss(model, data):
        src, tgt, y = data
        logits = model(src, tgt)
        return torch.nn.functional.cross_entropy(logits.reshape(-1, 11), y.reshape(-1))

    return Seq2Seq(), loss


def _super_res(torch):
    nn = torch.nn

    class SuperRes(nn.Module):
        def __init__(self, r=2):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 8, 5, padding=2)
            self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
            self.conv3 = nn.Conv2d(8, r * r, 3, padding=1)
            self.shuffle = nn.PixelShuffle(r)

        def forward(self, x):
            x = self.conv1(x).tanh()
            x = self.conv2(x).tanh()
            return self.shuffle(self.conv3(x))

    def loss(model, data):
        x, y = data
        return torch.nn.functional.mse_loss(model(x), y)

    return SuperRes(), loss


def _text(torch):
    nn = torch.nn

    class TextClassifier(nn.Module):
        def __init__(self, vocab=50, d=8, classes=4):
            super().__init__()
            self.embedding = nn.EmbeddingBag(vocab, d, mode="mean")
            self.fc = nn.Linear(d, classes)

        def forward(self, text, offsets):
            return self.fc(self.embedding(text, offsets))

    def loss(model, data):
        text, offsets, y = data
        return nn.CrossEntropyLoss()(model(text, offsets), y)

    return TextClassifier(), loss


def _ctc(torch):
    nn = torch.nn

    class SpeechModel(nn.Module):
        def __init__(self, feats=6, hidden=8, classes=5):
            super().__init__()
            self.conv = nn.Conv1d(feats, hidden, 3, padding=1)
            self.rnn = nn.GRU(hidden, hidden, batch_first=True, bidirectional=True)
            self.fc = nn.Linear(2 * hidden, classes)

        def forward(self, x):                      # x (N, feats, T)
            h = self.conv(x).relu().transpose(1, 2)
            h, _ = self.rnn(h)
            return self.fc(h).log_softmax(2).transpose(0, 1)   # (T, N, C)

    def loss(model, data):
        x, tg, il, tl = data
        return nn.CTCLoss(blank=0)(model(x), tg, il, tl)

    return SpeechModel(), loss


def _gan_d(torch):
    nn = torch.nn
    sn = nn.utils.parametrizations.spectral_norm

    class Discriminator(nn.Module):
        def __init__(self):
            super().__init__()
            self.main = nn.Sequential(
                sn(nn.Conv2d(3, 8, 4, 2, 1)), nn.LeakyReLU(0.2),
                sn(nn.Conv2d(8, 16, 4, 2, 1)), nn.LeakyReLU(0.2),
                nn.Flatten(), sn(nn.Linear(16 * 2 * 2, 1)))

        def forward(self, x):
            return self.main(x)

    def loss(model, data):
        x, y = data
        return nn.BCEWithLogitsLoss()(model(x).reshape(-1), y)

    return Discriminator(), loss


def _cnn3d(torch):
    nn = torch.nn

    class CNN3d(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv3d(1, 4, 3, padding=1), nn.BatchNorm3d(4), nn.ReLU(),
                nn.MaxPool3d(2), nn.Conv3d(4, 8, 3, padding=1), nn.ReLU(),
                nn.AdaptiveAvgPool3d(1))
            self.fc = nn.Linear(8, 3)

        def forward(self, x):
            return self.fc(self.features(x).flatten(1))

    def loss(model, data):
        x, y = data
        return nn.functional.cross_entropy(model(x), y)

    return CNN3d(), loss


def _data(name, rng):
    if name == "seq2seq":
        return (rng.integers(0, 11, (2, 6)), rng.integers(0, 11, (2, 5)),
                rng.integers(0, 11, (2, 5)))
    if name == "super_res":
        return rng.standard_normal((2, 1, 6, 6)), rng.standard_normal((2, 1, 12, 12))
    if name == "text":
        return (rng.integers(0, 50, 12), np.array([0, 3, 3, 8]), rng.integers(0, 4, 4))
    if name == "ctc":
        return (rng.standard_normal((2, 6, 12)), rng.integers(1, 5, (2, 4)),
                np.array([12, 10]), np.array([4, 3]))
    if name == "gan_d":
        return rng.standard_normal((3, 3, 8, 8)), (rng.random(3) > 0.5).astype(np.float64)
    return rng.standard_normal((2, 1, 4, 6, 6)), rng.integers(0, 3, 2)


_MODELS = {"seq2seq": _seq2seq, "super_res": _super_res, "text": _text, "ctc": _ctc,
           "gan_d": _gan_d, "cnn3d": _cnn3d}


@pytest.mark.parametrize("name", list(_MODELS))
def test_torch_style_model_one_training_step(name, rng):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tmodel, tloss = _MODELS[name](torch)
    fmodel, floss = _MODELS[name](fastdl)
    tmodel.double()
    fmodel.double()
    fmodel.load_state_dict({k: v.detach().numpy().copy() for k, v in
                            tmodel.state_dict().items()})
    data = _data(name, rng)
    t_in = [torch.tensor(a) for a in data]
    f_in = [fastdl.tensor(a) for a in data]
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1, momentum=0.9)
    fopt = fastdl.optim.SGD(fmodel.parameters(), lr=0.1, momentum=0.9)
    for step in range(2):
        topt.zero_grad()
        fopt.zero_grad()
        tl = tloss(tmodel, t_in)
        fl = floss(fmodel, f_in)
        assert_close(fl.detach().numpy(), tl.detach().numpy(), rtol=1e-6, atol=1e-9,
                     msg=f"{name} step {step} loss: ")
        tl.backward()
        fl.backward()
        topt.step()
        fopt.step()
    fsd = fmodel.state_dict()
    for k, v in tmodel.state_dict().items():
        assert_close(fsd[k].numpy(), v.detach().numpy(), rtol=1e-5, atol=1e-8,
                     msg=f"{name}: {k}: ")
