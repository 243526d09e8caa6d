"""What one trial asks Ray for, chosen from the machine or cluster it runs on."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrialResources:
    """Ray resources of one trial and the torch device and thread count it uses."""

    cpus: float
    gpus: float
    device: str
    threads: int

    def as_ray(self) -> dict[str, float]:
        return {"cpu": self.cpus, "gpu": self.gpus}


def packed_trial_resources(
    cluster: dict[str, float], gpu_fraction: float = 0.1, cpus_per_trial: int = 1
) -> TrialResources:
    """Resources for a trial of packed tiny models.

    On CPU a trial takes `cpus_per_trial` cores and as many torch threads, so trials fill the
    cores one per core (tiny models gain little from intra-op threads). With GPUs a trial takes
    a fraction of one, so several packs share a GPU.
    """
    if not 0 < gpu_fraction <= 1:
        raise ValueError(f"gpu_fraction: accepted values are in (0, 1], got {gpu_fraction}")
    if cpus_per_trial < 1:
        raise ValueError(f"cpus_per_trial: must be >= 1, got {cpus_per_trial}")
    if cluster.get("GPU", 0) >= gpu_fraction:
        return TrialResources(cpus=1, gpus=gpu_fraction, device="cuda", threads=1)
    cpus = min(cpus_per_trial, max(1, int(cluster.get("CPU", 1))))
    return TrialResources(cpus=cpus, gpus=0, device="cpu", threads=cpus)


def full_device_trial_resources(cluster: dict[str, float]) -> TrialResources:
    """Resources for a trial that trains one large model (ResNets): a whole GPU, else the CPU."""
    if cluster.get("GPU", 0) >= 1:
        return TrialResources(
            cpus=min(4, int(cluster.get("CPU", 1))),
            gpus=1,
            device="cuda",
            threads=min(4, int(cluster.get("CPU", 1))),
        )
    cpus = max(1, int(cluster.get("CPU", 1)))
    return TrialResources(cpus=cpus, gpus=0, device="cpu", threads=cpus)
