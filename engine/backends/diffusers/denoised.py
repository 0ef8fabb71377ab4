"""The model's clean estimate (x0) at each step, read where the sampler computes it.

A preview of the noisy latent shows noise; what a user wants to watch is the model's current
guess of the finished clip. Stock diffusers pipelines hand their step callback only the
noisy latents, so `DenoisedTap` wraps the scheduler's `step` for one run and keeps the
estimate of the step just taken:

- flow matching (Wan's UniPC with flow sigmas keeps it as its converted model output;
  LTX-Video's Euler does not): x0 = x_t - sigma_t * v;
- CogVideoX's DDIM and DPM schedulers return it beside the new sample;
- any other scheduler with `alphas_cumprod`: from the prediction type (epsilon, v, sample).

The tap changes nothing the sampler computes; it only reads. It is removed when the run
ends, so the pipeline stays stock between jobs.
"""

from __future__ import annotations

import inspect

import torch


class DenoisedTap:
    """`with DenoisedTap(pipe.scheduler) as tap: pipe(...)`; `tap.latest` is the last x0."""

    def __init__(self, scheduler) -> None:
        self.scheduler = scheduler
        self.latest: torch.Tensor | None = None
        self.steps = 0
        self._original = None

    def __enter__(self) -> DenoisedTap:
        self._original = self.scheduler.step  # bound method of the instance's class
        self._signature = inspect.signature(self._original)
        self.scheduler.step = self._step  # an instance attribute shadows the class method
        return self

    def __exit__(self, *exc) -> None:
        self.scheduler.__dict__.pop("step", None)

    def _step(self, *args, **kwargs):
        bound = self._signature.bind(*args, **kwargs)
        model_output = bound.arguments.get("model_output")
        sample = bound.arguments.get("sample")
        timestep = bound.arguments.get("timestep")
        out = self._original(*args, **kwargs)
        self.latest = estimate_x0(self.scheduler, model_output, sample, timestep, out)
        self.steps += 1
        return out


def estimate_x0(scheduler, model_output, sample, timestep, out) -> torch.Tensor | None:
    """The clean estimate of the step whose inputs and output are given (see the module)."""
    second = None
    if isinstance(out, tuple) and len(out) > 1 and isinstance(out[1], torch.Tensor):
        second = out[1]
    elif hasattr(out, "pred_original_sample") and out.pred_original_sample is not None:
        second = out.pred_original_sample
    if second is not None:
        return second
    config = scheduler.config
    outputs = getattr(scheduler, "model_outputs", None)
    if outputs and outputs[-1] is not None and _keeps_x0(config):
        return outputs[-1]
    if model_output is None or sample is None:
        return None
    if hasattr(scheduler, "sigmas") and "FlowMatch" in type(scheduler).__name__:
        index = scheduler.step_index - 1  # step() has just moved it on
        sigma = scheduler.sigmas[index].to(sample.device, torch.float32)
        return (sample.float() - sigma * model_output.float()).to(sample.dtype)
    alphas = getattr(scheduler, "alphas_cumprod", None)
    if alphas is not None and timestep is not None:
        a = alphas[int(timestep)].to(sample.device, torch.float32)
        x, m = sample.float(), model_output.float()
        kind = config.get("prediction_type", "epsilon")
        if kind == "v_prediction":
            x0 = a.sqrt() * x - (1 - a).sqrt() * m
        elif kind == "sample":
            x0 = m
        else:
            x0 = (x - (1 - a).sqrt() * m) / a.sqrt()
        return x0.to(sample.dtype)
    return None


def _keeps_x0(config) -> bool:
    """Multistep solvers keep converted outputs; they are x0 in their data-prediction form."""
    if "predict_x0" in config:  # UniPC
        return bool(config["predict_x0"])
    return str(config.get("algorithm_type", "")).endswith("++")  # DPM-Solver++
