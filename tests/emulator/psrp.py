"""PowerShell Remoting Protocol (MS-PSRP) on the emulated WinRM listener, with psrpcore's server side.

The ``psrp`` connection plugin (pypsrp) does not start ``powershell.exe`` in a cmd shell: it opens
a *RunspacePool* on the ``Microsoft.PowerShell`` session configuration of the same WS-Management
listener and runs each script as a *pipeline* in it. MS-PSRP (the Windows protocol spec,
https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-psrp/ ) section 3.1.5.3 gives the
WS-Management messages:

* WS-Man ``Create`` on ``http://schemas.microsoft.com/powershell/Microsoft.PowerShell`` carries the
  first PSRP fragments (SESSION_CAPABILITY and INIT_RUNSPACEPOOL) base64-encoded in a
  ``creationXml`` element; the ``rsp:Shell`` ``ShellId`` is the client's RunspacePool id
  (3.1.5.3.1, .../ms-psrp/4b273725-2b60-4470-bca6-587644978a85).
* A ``Receive`` without CommandId returns the server's SESSION_CAPABILITY, APPLICATION_PRIVATE_DATA
  and RUNSPACEPOOL_STATE (Opened) on the ``stdout`` stream.
* ``Command`` (an empty ``rsp:Command``, CommandId = the pipeline id) carries the first
  CREATE_PIPELINE fragment in ``rsp:Arguments`` (3.1.5.3.3,
  .../ms-psrp/900d9399-f8bd-40d2-992a-0a2a2bae0f46); ``Send`` on ``stdin`` (or ``pr`` for host
  responses) carries PIPELINE_INPUT and END_OF_PIPELINE_INPUT (3.1.5.3.5,
  .../ms-psrp/f1686d55-ba3e-43a5-9d76-1140e9d550ae); ``Receive`` with the CommandId returns
  PIPELINE_OUTPUT, ERROR_RECORD, PIPELINE_HOST_CALL and PIPELINE_STATE, then ``CommandState/Done``;
  nothing follows a Completed, Stopped or Failed state (3.2.1.3.2,
  .../ms-psrp/dbfabf75-b719-4588-ab30-4d3368290d4c).
* ``Signal`` (pypsrp sends ``powershell/signal/crtl_c``) stops a pipeline, ``Delete`` closes the pool.

This module holds one RunspacePool's protocol state (:class:`RunspacePoolSession`); the WS-Man
actions, waits, faults and counters stay in :mod:`emulator.wsman`. What a pipeline *does* is not
decided here: its script and input are handed to the same host model the cmd shell uses, as the
line ``PowerShell -NoProfile -NonInteractive -EncodedCommand <script>`` with the input objects as
stdin lines (:func:`backend_invocation`), and the host's answer is turned back into what a
runspace sends (:meth:`RunspacePoolSession.finish_pipeline`):

* each line the host would print is one string output object (a script's ``Write-Output "text"``
  is exactly one string object; the collection's runner writes one line of JSON);
* what powershell.exe would print on stderr before exiting 1 (a parse error, an exception) is a
  terminating error: the pipeline ends ``Failed`` with the error as the PIPELINE_STATE message's
  ``ExceptionAsErrorRecord`` (3.2.1.3.2: the server sends a Failed state when "a pipeline failed
  while executing");
* any other exit code comes through the host, as ``exit <n>`` does in a remote runspace:
  a PIPELINE_HOST_CALL to ``SetShouldExit`` (host method identifier 6, MS-PSRP 2.2.3.17).

The PowerShell version of the host decides the ``protocolversion`` of the server's
SESSION_CAPABILITY (2.2.2.1, .../ms-psrp/2f41abfb-7e30-4fb1-b286-527e9d67ad30): 2.1 for Windows
PowerShell 2.0 (which does serve PSRP, over WinRM 2.0), 2.2 for 3.0 and 4.0, 2.3 for 5.x (the
versions psrpcore's ProtocolVersion lists), and ``PSVersionTable`` in APPLICATION_PRIVATE_DATA.

Not emulated: session configurations other than Microsoft.PowerShell (JEA endpoints), pipelines of
cmdlets or several statements (only one script command, as Ansible sends), host method calls that
expect an answer (Read-Host, credential prompts), disconnect/reconnect (MS-PSRP 3.1.4.11), the
session-key exchange for SecureString, and the idle timeout of a RunspacePool.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field

from psrpcore import (
    CreatePipelineEvent,
    EndOfPipelineInputEvent,
    PipelineInputEvent,
    PSRPPayload,
    ServerPipeline,
    ServerRunspacePool,
    StreamType,
)
from psrpcore._payload import ProtocolVersion
from psrpcore.types import (
    ErrorCategory,
    ErrorCategoryInfo,
    ErrorRecord,
    HostMethodIdentifier,
    NETException,
    PSInvocationState,
    PSVersion,
    RunspacePoolState,
)

__all__ = [
    "POWERSHELL_RESOURCE_PREFIX",
    "RunspacePoolSession",
    "backend_invocation",
    "configuration_name",
]

POWERSHELL_RESOURCE_PREFIX = "http://schemas.microsoft.com/powershell/"
DEFAULT_CONFIGURATION = "Microsoft.PowerShell"
# A PSRP fragment header is 21 bytes (MS-PSRP 2.2.4); psrpcore needs room for one more byte.
_MIN_FRAGMENT = 22


def configuration_name(resource_uri: str | None) -> str | None:
    """``Microsoft.PowerShell`` for its resource URI; None when the URI is not a PowerShell endpoint."""
    if not resource_uri or not resource_uri.lower().startswith(POWERSHELL_RESOURCE_PREFIX):
        return None
    return resource_uri[len(POWERSHELL_RESOURCE_PREFIX):]


def _protocol_version(powershell: str) -> PSVersion:
    major = int(powershell.split(".")[0])
    if major <= 2:
        return ProtocolVersion.Pwsh2.value
    if major <= 4:
        return ProtocolVersion.Pwsh3.value
    return ProtocolVersion.Pwsh5.value


def backend_invocation(script: str) -> str:
    """The command line under which the host model runs a pipeline's script (see the module doc)."""
    encoded = base64.b64encode(script.encode("utf-16-le")).decode("ascii")
    return f"PowerShell -NoProfile -NonInteractive -EncodedCommand {encoded}"


@dataclass
class PipelineRequest:
    """What a client asked a pipeline to run, as far as the host model needs it."""

    script: str | None  # None: not a single script command (the emulated host refuses it)
    no_input: bool
    input_lines: list[str] = field(default_factory=list)
    input_ended: bool = False

    @property
    def runnable(self) -> bool:
        return self.no_input or self.input_ended

    @property
    def stdin(self) -> bytes:
        """The input objects as the lines of a stdin stream (what the cmd-shell path receives)."""
        return "\n".join(self.input_lines).encode("utf-8")


class RunspacePoolSession:
    """One RunspacePool on the server: the psrpcore state machine plus per-target output queues.

    Not thread-safe: the WS-Man service calls it with its lock held.
    """

    def __init__(self, shell_id: str, powershell: str, creation: bytes) -> None:
        self.shell_id = shell_id
        # MS-PSRP 2.2.2.13: PSVersionTable is part of the application private data a server sends.
        version_table = {
            "PSVersion": PSVersion(powershell),
            "PSRemotingProtocolVersion": _protocol_version(powershell),
            "SerializationVersion": PSVersion("1.1.0.1"),
            # WMF 2.0 brought WS-Management 2.0; WMF 3.0 and later ship WS-Management 3.0.
            "WSManStackVersion": PSVersion("2.0" if powershell.startswith("2.") else "3.0"),
        }
        self.pool = ServerRunspacePool(application_private_data={"PSVersionTable": version_table})
        self.pool.our_capability.protocolversion = _protocol_version(powershell)
        self.requests: dict[uuid.UUID, PipelineRequest] = {}
        # Payloads not yet received by the client: None -> the pool's Receive, else the pipeline's.
        self._outbox: dict[uuid.UUID | None, bytearray] = {}
        self.receive_data(creation)
        if self.pool.state != RunspacePoolState.Opened:
            raise ValueError("the creationXml did not open a RunspacePool")

    # -- input from the client

    def receive_data(self, data: bytes) -> None:
        """Feed PSRP fragments (creationXml, Command arguments, Send stdin/pr) and process them."""
        self.pool.receive_data(PSRPPayload(data, StreamType.default, None))
        while True:
            event = self.pool.next_event()
            if event is None:
                break
            if isinstance(event, CreatePipelineEvent):
                pipeline = event.pipeline
                commands = pipeline.commands
                script = commands[0].command_text if len(commands) == 1 and commands[0].is_script else None
                self.requests[event.pipeline_id] = PipelineRequest(script, bool(pipeline.no_input))
            elif isinstance(event, PipelineInputEvent):
                self.requests[event.pipeline_id].input_lines.append("" if event.data is None else str(event.data))
            elif isinstance(event, EndOfPipelineInputEvent):
                self.requests[event.pipeline_id].input_ended = True
        self._collect()

    def create_pipeline(self, pipeline_id: str, fragment: bytes) -> uuid.UUID:
        """A WS-Man Command: the pipeline (CommandId = pipeline id) and the first CREATE_PIPELINE fragment.

        A long pipeline (a large script) does not fit one envelope: its other fragments come by
        Send, and ``requests`` has the pipeline only once the last one is in.
        """
        key = uuid.UUID(pipeline_id)
        ServerPipeline(self.pool, key)
        self.receive_data(fragment)
        return key

    # -- output to the client

    def start_pipeline(self, pipeline_id: uuid.UUID) -> None:
        """The pipeline starts running (PIPELINE_STATE Running)."""
        self.pool.pipeline_table[pipeline_id].start()
        self._collect()

    def finish_pipeline(self, pipeline_id: uuid.UUID, rc: int, stdout: bytes, stderr: bytes) -> None:
        """Turn the host model's answer into what the running pipeline sends (see the module doc)."""
        pipeline = self.pool.pipeline_table[pipeline_id]
        if pipeline.state == PSInvocationState.NotStarted:
            pipeline.start()
        text = stdout.decode("utf-8", errors="replace")
        for line in text.splitlines():
            pipeline.write_output(line)
        error = stderr.decode("utf-8", errors="replace").strip()
        if rc != 0 and error:
            record = _error_record(error)
            pipeline._change_state(PSInvocationState.Failed, error=record)  # pylint: disable=protected-access
        else:
            if error and not error.startswith("#< CLIXML"):
                # A non-terminating error. (CLIXML on stderr is how powershell.exe serialises
                # progress records; a runspace sends those as PROGRESS_RECORD, not emulated.)
                pipeline.write_error(NETException(Message=error), ErrorCategoryInfo(Reason="RemoteException"),
                                     fully_qualified_error_id="NativeCommandError")
            if rc != 0:
                pipeline.host_call(HostMethodIdentifier.SetShouldExit, [rc])
            pipeline.complete()
        self._collect()

    def stop_pipeline(self, pipeline_id: uuid.UUID) -> None:
        pipeline = self.pool.pipeline_table.get(pipeline_id)
        if pipeline is not None and pipeline.state == PSInvocationState.Running:
            pipeline.stop()
            self._collect()

    def pending(self, pipeline_id: uuid.UUID | None) -> bool:
        return bool(self._outbox.get(pipeline_id))

    def take(self, pipeline_id: uuid.UUID | None, limit: int) -> bytes:
        """Up to ``limit`` bytes of whole fragments for one Receive (psrpcore fragments to fit)."""
        buffered = self._outbox.get(pipeline_id)
        if not buffered:
            return b""
        # The outbox holds whole fragments; cut only at a fragment boundary.
        taken = 0
        while taken < len(buffered):
            length = int.from_bytes(buffered[taken + 17: taken + 21], "big")
            if taken and taken + 21 + length > limit:
                break
            taken += 21 + length
        data = bytes(buffered[:taken])
        del buffered[:taken]
        return data

    def finished(self, pipeline_id: uuid.UUID) -> bool:
        pipeline = self.pool.pipeline_table.get(pipeline_id)
        done = (PSInvocationState.Completed, PSInvocationState.Failed, PSInvocationState.Stopped)
        return pipeline is None or pipeline.state in done

    def _collect(self, fragment_size: int = 32_768) -> None:
        """Move psrpcore's queued messages into the per-target outboxes, as fragments."""
        while True:
            payload = self.pool.data_to_send(max(fragment_size, _MIN_FRAGMENT))
            if payload is None:
                return
            self._outbox.setdefault(payload.pipeline_id, bytearray()).extend(payload.data)


def _error_record(message: str) -> ErrorRecord:
    """A terminating error as a remote runspace reports it (RuntimeException, category NotSpecified)."""
    exception = NETException(Message=message, HResult=-2146233087)
    exception.PSObject.type_names = ["System.Management.Automation.RuntimeException", "System.SystemException",
                                     *exception.PSTypeNames]
    return ErrorRecord(
        Exception=exception,
        CategoryInfo=ErrorCategoryInfo(Category=ErrorCategory.NotSpecified, Reason="RuntimeException"),
        FullyQualifiedErrorId="RuntimeException",
    )
