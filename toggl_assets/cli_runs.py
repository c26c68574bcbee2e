"""Run a job of the code location from the ``toggl-assets`` command, in this process, as an ordinary run.

``toggl-assets sync`` executes in process (no code server, no run worker: one process start instead of three),
but the run it creates carries the same origin as a run launched from the UI: the code location
``toggl_assets`` (the name ``workspace.yaml`` and ``[tool.dg]`` give), the ``__repository__`` repository and
the job's name. The UI therefore lists it under its job and on the timeline, and can re-execute it.

While a run executes, :class:`~toggl_assets.run_recovery.RunRegistry` records this process, so that a later
command can fail the run and free its pool slot if this process dies (Dagster cannot see in-process runs).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableJob, ReconstructableRepository
from dagster._core.execution.api import create_execution_plan, execute_run
from dagster._core.remote_origin import (
    ManagedGrpcPythonEnvCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from toggl_assets.run_recovery import RunRegistry

LOCATION_NAME = "toggl_assets"
REPOSITORY_NAME = "__repository__"
DEFINITIONS_MODULE = "toggl_assets.definitions"
DEFINITIONS_ATTRIBUTE = "defs"


def reconstructable_job(job_name: str) -> ReconstructableJob:
    """The job as the code location defines it (``toggl_assets.definitions:defs``)."""
    repository = ReconstructableRepository.for_module(DEFINITIONS_MODULE, DEFINITIONS_ATTRIBUTE, os.getcwd())
    return repository.get_reconstructable_job(job_name)


def remote_job_origin(job_name: str) -> RemoteJobOrigin:
    """The origin the UI's workspace gives this job: what lists a run under its job and lets it re-execute."""
    target = LoadableTargetOrigin(
        executable_path=sys.executable, module_name=DEFINITIONS_MODULE, working_directory=os.getcwd()
    )
    location = ManagedGrpcPythonEnvCodeLocationOrigin(target, LOCATION_NAME)
    return RemoteRepositoryOrigin(location, REPOSITORY_NAME).get_job_origin(job_name)


def execute_job(
    instance: dg.DagsterInstance,
    job_name: str,
    *,
    tags: Mapping[str, str],
    run_config: Mapping[str, Any] | None = None,
    registry: RunRegistry | None = None,
) -> Any:
    """Create a run of ``job_name`` with ``tags`` and execute it here; returns Dagster's execution result."""
    job = reconstructable_job(job_name)
    job_def = job.get_definition()
    config = dict(run_config or {})
    plan = create_execution_plan(job, run_config=config, instance_ref=instance.get_ref(), tags=dict(tags))
    run = instance.create_run_for_job(
        job_def=job_def,
        execution_plan=plan,
        run_config=config,
        tags={**job_def.run_tags, **tags},
        remote_job_origin=remote_job_origin(job_name),
        job_code_origin=job.get_python_origin(),
    )
    if registry is None:
        return execute_run(job, run, instance)
    with registry.executing(run.run_id):
        return execute_run(job, run, instance)
