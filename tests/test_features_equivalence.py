"""Every descriptor against its librosa counterpart, on real and synthetic speech.

Tolerances (documented in features/README.md): float32 STFT rounding only, except pitch, which
is a different algorithm from pYIN and is held to agreement rates instead.
"""

import dataclasses

import librosa
import numpy as np
import pytest
import scipy.stats

from benchmark import audio
from benchmark.synth import Speaker, utterance
from features import FeatureBank, FeatureConfig, cepstral, chroma, pitch, spectral, temporal
from features.functionals import ALL, FINITE, WHERE, WHERE_NOT, functionals, functionals_where
from features.stft import spectra, window_autocorrelation
from tests.conftest import DATA, real_corpus

CFG = FeatureConfig()
KW = dict(n_fft=CFG.n_fft, hop_length=CFG.hop_length, win_length=CFG.win_length)
MEL = dict(n_mels=CFG.n_mels, fmax=CFG.fmax)  # the mel filters' top, as the default's


def _synthetic():
    rng = np.random.default_rng(1)
    return utterance(Speaker(1, 120.0, 1.0), "angry", True, 1, rng)


def _signals():
    sigs = [("synthetic", _synthetic())]
    if DATA:
        path = real_corpus("ravdess") / "Actor_02" / "03-01-03-02-01-01-02.flac"
        sigs.append(("ravdess", audio.load(path, 16000)))
    return sigs


@pytest.fixture(params=_signals(), ids=lambda s: s[0])
def signal(request):
    y = request.param[1]
    S = np.abs(librosa.stft(y, **KW))
    return y, spectra(y, CFG), S


@pytest.fixture
def real_signal():
    path = real_corpus("ravdess") / "Actor_02" / "03-01-03-02-01-01-02.flac"
    y = audio.load(path, 16000)
    return y, spectra(y, CFG)


def test_stft_and_mel_match_librosa(signal):
    y, sp, S = signal
    # a float32 transform: exact to float32 rounding of the utterance's peak (librosa's runs
    # in float64); relative agreement where the spectrum has energy
    np.testing.assert_allclose(sp.mag, S, rtol=1e-5, atol=1e-6 * S.max())
    ref = librosa.feature.melspectrogram(y=y, sr=CFG.sr, **MEL, **KW)
    np.testing.assert_allclose(sp.mel, ref, rtol=1e-4, atol=1e-6 * ref.max())


def test_zcr_and_rms(signal):
    y, sp, S = signal
    ref = librosa.feature.zero_crossing_rate(y, frame_length=CFG.win_length,
                                             hop_length=CFG.hop_length)[0]
    np.testing.assert_allclose(temporal.zcr(y, sp.n_frames, CFG), ref, atol=1e-12)
    ref = librosa.feature.rms(S=S, frame_length=CFG.n_fft)[0]
    np.testing.assert_allclose(temporal.rms(sp, CFG), ref, rtol=1e-4, atol=1e-9)


def test_spectral_shape(signal):
    y, sp, S = signal
    c, bw, ro, fl = spectral.shape(sp, CFG)
    freq = librosa.fft_frequencies(sr=CFG.sr, n_fft=CFG.n_fft)
    kept = freq <= CFG.spectral_fmax  # the bins the default reads
    S = S[kept]
    kw = dict(S=S, freq=freq[kept], sr=CFG.sr, n_fft=CFG.n_fft)
    np.testing.assert_allclose(c, librosa.feature.spectral_centroid(**kw)[0], rtol=1e-4)
    np.testing.assert_allclose(bw, librosa.feature.spectral_bandwidth(**kw)[0], rtol=1e-4)
    bin_hz = CFG.sr / CFG.n_fft  # float32 cumulative sums may cross the threshold a bin apart
    ref = librosa.feature.spectral_rolloff(**kw, roll_percent=CFG.rolloff_percent)[0]
    assert np.mean(np.abs(ro - ref) <= bin_hz + 1e-6) == 1.0
    assert np.mean(ro == ref) > 0.99
    np.testing.assert_allclose(fl, librosa.feature.spectral_flatness(S=S)[0], rtol=1e-3,
                               atol=1e-7)


def test_contrast(signal):
    y, sp, S = signal
    # the default's top band ends at spectral_fmax: librosa's on the bins up to it
    freq = librosa.fft_frequencies(sr=CFG.sr, n_fft=CFG.n_fft)
    kept = freq <= CFG.spectral_fmax
    ref = librosa.feature.spectral_contrast(S=S[kept], freq=freq[kept], sr=CFG.sr,
                                            n_fft=CFG.n_fft, fmin=CFG.contrast_fmin,
                                            n_bands=CFG.n_contrast_bands,
                                            quantile=CFG.contrast_quantile)
    out = spectral.contrast(sp, CFG)
    assert out.shape == (CFG.n_contrast_bands + 1, sp.n_frames)
    # and without it, librosa's own bands up to Nyquist
    full = dataclasses.replace(CFG, n_contrast_bands=6, spectral_fmax=None)
    np.testing.assert_allclose(
        spectral.contrast(sp, full).mean(axis=1),
        librosa.feature.spectral_contrast(S=S, sr=CFG.sr, n_fft=CFG.n_fft, fmin=200.0,
                                          n_bands=6, quantile=0.02).mean(axis=1), atol=0.01)
    # valleys are means of a band's quietest bins, down where a float32 transform's rounding
    # (~1e-6 of the peak) shows: most frames agree to 1e-3 dB, nearly all to 0.1 dB, the rest
    # are near-silent, and the utterance statistics agree to 0.01 dB
    d = np.abs(out - ref)
    assert np.mean(d <= 1e-3) > 0.9 and np.mean(d <= 0.1) > 0.99 and np.median(d) < 1e-4
    np.testing.assert_allclose(out.mean(axis=1), ref.mean(axis=1), atol=0.01)


def test_chroma(signal):
    y, sp, S = signal
    ref = librosa.feature.chroma_stft(S=S**2, sr=CFG.sr, n_fft=CFG.n_fft, tuning=0.0)
    np.testing.assert_allclose(chroma.chroma(sp, CFG), ref, atol=1e-5)


def test_logmel_mfcc_and_deltas(signal):
    y, sp, S = signal
    lm = cepstral.logmel(sp, CFG)
    ref_mel = librosa.feature.melspectrogram(y=y, sr=CFG.sr, **MEL, **KW)
    np.testing.assert_allclose(lm, librosa.power_to_db(ref_mel), atol=2e-3)
    m = cepstral.mfcc(lm, CFG)
    ref = librosa.feature.mfcc(y=y, sr=CFG.sr, n_mfcc=CFG.n_mfcc, **MEL, **KW)
    np.testing.assert_allclose(m, ref, atol=1e-2, rtol=1e-4)
    d1, d2 = cepstral.deltas(m, CFG)
    np.testing.assert_allclose(d1, librosa.feature.delta(ref, order=1), atol=1e-2)
    np.testing.assert_allclose(d2, librosa.feature.delta(ref, order=2), atol=1e-2)


def test_pitch_on_known_f0():
    sr = 16000
    t = np.arange(sr * 2) / sr
    f_true = 110.0 * 2 ** (t / 2.0)  # a one-octave glide, 110 -> 220 Hz
    phase = 2 * np.pi * np.cumsum(f_true) / sr
    y = sum(np.sin(k * phase) / k for k in range(1, 8)).astype(np.float32) * 0.3
    f0, strength = pitch.pitch(spectra(y, CFG), CFG)
    centre = np.arange(f0.size) * CFG.hop_length
    inner = (centre > 400) & (centre < y.size - 400)
    assert (f0[inner] > 0).all() and (strength[inner] > 0.9).all()
    rel = np.abs(f0[inner] / f_true[centre[inner]] - 1)
    assert np.median(rel) < 0.005 and rel.max() < 0.02


def test_pitch_unvoiced_on_noise_and_silence():
    rng = np.random.default_rng(0)
    f0, _ = pitch.pitch(spectra(rng.standard_normal(16000).astype(np.float32) * 0.1, CFG), CFG)
    assert (f0 > 0).mean() < 0.05
    f0, s = pitch.pitch(spectra(np.zeros(16000, np.float32), CFG), CFG)
    assert not f0.any() and not s.any()


def test_pitch_agrees_with_pyin_on_speech(signal):
    y, sp, _ = signal
    ref, voiced_ref, _ = librosa.pyin(y, fmin=CFG.f0_min, fmax=CFG.f0_max, sr=CFG.sr,
                                      frame_length=1024, hop_length=CFG.hop_length)
    f0, _ = pitch.pitch(sp, CFG)
    n = min(f0.size, ref.size)
    both = (f0[:n] > 0) & voiced_ref[:n]
    assert both.sum() > 30
    semitones = np.abs(12 * np.log2(f0[:n][both] / ref[:n][both]))
    assert np.median(semitones) < 0.5
    assert np.mean(semitones < 1.0) > 0.75


def test_voicing_decisions_agree_with_pyin_on_real_speech(real_signal):
    y, sp = real_signal
    _, voiced_ref, _ = librosa.pyin(y, fmin=CFG.f0_min, fmax=CFG.f0_max, sr=CFG.sr,
                                    frame_length=1024, hop_length=CFG.hop_length)
    f0, _ = pitch.pitch(sp, CFG)
    n = min(f0.size, voiced_ref.size)
    assert np.mean((f0[:n] > 0) == voiced_ref[:n]) > 0.75


def test_functionals_match_numpy_and_scipy():
    x = np.random.default_rng(0).standard_normal((4, 301)).cumsum(axis=1)
    out = functionals(x, (10.0, 50.0, 90.0), 0.01)
    t = np.arange(301) * 0.01
    ref = np.column_stack([x.mean(1), x.std(1), x.min(1), x.max(1),
                           np.percentile(x, [10, 50, 90], axis=1).T,
                           scipy.stats.skew(x, axis=1), scipy.stats.kurtosis(x, axis=1),
                           [np.polyfit(t, r, 1)[0] for r in x]])
    np.testing.assert_allclose(out, ref, rtol=1e-9, atol=1e-9)


def test_rows_over_chosen_frames_give_each_rows_functionals_bit_for_bit():
    """functionals_where (one call for rows each over its own frames: all, where a mask is
    true or false, where finite) gives exactly what functionals gives each row's chosen
    frames alone, float32 rows interpolating in float32; a row with no chosen frame gives
    zeros."""
    rng = np.random.default_rng(0)
    mask = rng.random(301) < 0.4
    for dtype in (np.float32, np.float64):
        matrix = rng.standard_normal((3, 301)).cumsum(axis=1).astype(dtype)
        matrix[2, rng.random(301) < 0.7] = np.nan
        matrix[1, :] = np.where(mask, matrix[1], np.nan)
        chosen = [(0, ALL, np.ones(301, bool)), (0, WHERE, mask), (0, WHERE_NOT, ~mask),
                  (2, FINITE, np.isfinite(matrix[2])), (1, WHERE_NOT, ~mask),
                  (1, FINITE, mask)]
        got = functionals_where(matrix, [c[0] for c in chosen], [c[1] for c in chosen], mask,
                                (10.0, 50.0, 90.0), 0.01)
        for (row, _, frames), values in zip(chosen, got, strict=True):
            if frames.any() and np.isfinite(matrix[row, frames]).all():
                alone = functionals(matrix[row, frames][None], (10.0, 50.0, 90.0), 0.01)[0]
                assert np.array_equal(values, alone), dtype
        assert np.isnan(got[4, 0])  # the NaN frames of row 1 were chosen: they are summarised
        assert not functionals_where(matrix[:, :0], [0], [ALL], None, (50.0,), 0.01).any()
    with pytest.raises(ValueError, match="needs the mask"):
        functionals_where(matrix, [0], [WHERE], None, (50.0,), 0.01)


def test_the_silence_gate_skips_only_frames_it_would_reject(signal):
    """pitch transforms only the frames near or above its silence gate; F0 and voicing are
    bit for bit those of transforming every frame (the gate's rejections included), on speech
    with silence before and after it."""
    import scipy.fft

    y = np.concatenate([np.zeros(8000, np.float32), signal[0],
                        np.full(4000, 1e-4, np.float32)])
    sp = spectra(y, CFG)
    f0, strength = pitch.pitch(sp, CFG)
    lag_min = max(int(np.floor(CFG.sr / CFG.f0_max)), 2)
    lag_max = int(np.ceil(CFG.sr / CFG.f0_min))
    ac = scipy.fft.dct(np.square(sp.mag_frames), type=1, axis=1)[:, : lag_max + 2]
    ac -= sp.power[0][:, None]
    floor = max(float(ac[:, 0].max()) * 10 ** (-pitch.SILENCE_DB / 10), 1e-20)
    wac = window_autocorrelation(CFG.n_fft, CFG.win_length)
    ref = pitch._pitch_kernel(ac, wac, lag_min, lag_max, floor, CFG.voicing_threshold,
                              float(CFG.sr), pitch.OCTAVE_RATIO)
    assert (ac[:, 0] <= floor).mean() > 0.2  # the gate had frames to skip
    assert np.array_equal(f0, ref[0]) and np.array_equal(strength, ref[1])


def test_bank_columns_named_and_selectable():
    bank = FeatureBank(CFG.full())
    y = _synthetic()
    x = bank.extract(y, 16000)
    names = bank.feature_names
    assert x.shape == (len(names),) and len(set(names)) == len(names)
    for name in ("mfcc_03_d1_std", "contrast_band2_p90", "f0_voiced_mean", "chroma_A_mean",
                 "logmel_63_slope", "zcr_kurt", "voiced_fraction", "hammarberg_voiced_p50"):
        assert name in names
    default = FeatureBank().feature_names  # lean: robust functionals, no chroma or log-mel
    assert len(default) <= 1000 and set(default) <= set(names)
    assert not any(n.startswith(("chroma", "logmel")) or n.endswith(("_min", "_kurt"))
                   for n in default)
    lean = FeatureBank().extract(y, 16000)
    np.testing.assert_allclose(lean, x[[names.index(n) for n in default]], rtol=1e-6)
    only = FeatureBank(CFG.full().with_groups(["mfcc"]))
    assert all(n.startswith("mfcc_") for n in only.feature_names)
    sub = only.extract(y, 16000)
    idx = [names.index(n) for n in only.feature_names]
    np.testing.assert_allclose(sub, x[idx], rtol=1e-6)
    # a voiced synthetic male voice: F0 near his base pitch (x scaled by the angry prosody)
    assert 100 < x[names.index("f0_voiced_p50")] < 400


@pytest.mark.parametrize("kind", ["silence", "ten_samples", "one_frame", "fifty_ms",
                                  "clipped", "dc", "full_scale_noise", "impulse"])
def test_degenerate_signals_give_finite_features(kind):
    rng = np.random.default_rng(0)
    y = {
        "silence": np.zeros(16000),
        "ten_samples": rng.standard_normal(10) * 0.1,
        "one_frame": rng.standard_normal(100) * 0.1,
        "fifty_ms": np.sin(np.arange(800) * 2 * np.pi * 150 / 16000) * 0.5,
        "clipped": np.clip(np.sin(np.arange(16000) * 0.05) * 10, -1, 1),
        "dc": np.full(8000, 0.5),
        "full_scale_noise": np.clip(rng.standard_normal(16000), -1, 1),
        "impulse": np.eye(1, 8000, 4000)[0],
    }[kind].astype(np.float32)
    bank = FeatureBank(CFG.full())
    x = bank.extract(y, 16000)
    assert np.isfinite(x).all()
    # what is undefined is named, and holds the stand-in 0
    undefined = bank.undefined(y, 16000)
    assert set(undefined) <= set(bank.feature_names)
    idx = [bank.feature_names.index(n) for n in undefined]
    assert np.all(x[idx] == 0)
    if kind in ("silence", "full_scale_noise", "dc"):  # nothing voiced in these
        assert "f0_voiced_mean" in undefined and "alpha_ratio_voiced_mean" in undefined
        assert "f0_st_p50" in undefined and "alpha_ratio_unvoiced_mean" not in undefined


def test_a_voiced_vowel_has_its_f0_defined():
    t = np.arange(16000) / 16000
    y = (0.5 * np.sin(2 * np.pi * 150 * t) + 0.2 * np.sin(2 * np.pi * 300 * t)).astype(
        np.float32)
    undefined = FeatureBank().undefined(y, 16000)
    assert "f0_st_p50" not in undefined and "alpha_ratio_voiced_mean" not in undefined


def test_resampling_inside_extract():
    y = _synthetic()
    y44 = librosa.resample(y, orig_sr=16000, target_sr=44100, res_type="soxr_hq")
    a, b = FeatureBank().extract(y, 16000), FeatureBank().extract(y44, 44100)
    names = FeatureBank().feature_names
    i = names.index("mfcc_01_mean")
    assert abs(a[i] - b[i]) < 0.02 * abs(a[i])
