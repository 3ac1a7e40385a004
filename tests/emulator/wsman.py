"""A WS-Management / WinRS server that real pywinrm and ``ansible-playbook`` can talk to.

Each emulated Windows host is one TCP listener (plain HTTP or HTTPS, any 127.0.0.0/8 address)
serving ``POST /wsman`` the way the WinRM service does for the ``windows/shell/cmd`` resource:

* **WinRS actions**: Create (a shell), Command, Send (stdin), Receive (stdout/stderr, CommandState,
  ExitCode), Signal (terminate) and Delete, in the response shapes Windows produces (real captures
  are in pywinrm's ``winrm/tests/conftest.py``): ``a:RelatesTo`` echoes the request
  ``a:MessageID``, every ``rsp:Stream`` carries ``Name``, exactly one ``CommandState/Done`` ends a
  command, output larger than the request's ``w:MaxEnvelopeSize`` is split over several Receives.
* **Commands** run through a :class:`Backend` (the Windows host model), once per WinRS Command: at
  the first Receive after stdin ended, or at the first Receive when the command was created with
  ``WINRS_CONSOLEMODE_STDIN=TRUE``. The line passed on is ``rsp:Command`` and ``rsp:Arguments``
  joined by spaces; cmd.exe refuses a line over 8,191 characters whole ("The command line is too
  long.", exit code 1) and the backend never sees it. The backend runs on a worker thread; a
  Receive waits up to the request's ``w:OperationTimeout`` and then answers the ``w:TimedOut``
  fault (code 2150858793), which pywinrm and Ansible retry quietly, exactly as for a long-running
  command on Windows.
* **Authentication**: Basic (every request carries the header), NTLM through pyspnego's acceptor
  (one security context per TCP connection, HTTP/1.1 keep-alive, the empty set-up POST, and
  ``multipart/encrypted`` message sealing), and HTTPS with a self-signed certificate (Basic and
  NTLM accepted over TLS).
* **Faults** a test can switch on per host (:class:`Faults`): rejected credentials (401),
  ``AllowUnencrypted=false`` (HTTP 500 without a SOAP body), a connection dropped instead of a
  Receive answer, a command that never ends, a slow command, and damaged command output.

* **PSRP** (``ansible_connection: psrp``): the same actions on the ``Microsoft.PowerShell``
  session configuration open a RunspacePool and run pipelines in it (:mod:`emulator.psrp`); each
  pipeline's script and input reach the same :class:`Backend` as a cmd-shell command does.

Not emulated: resource URIs other than the cmd shell and Microsoft.PowerShell, Kerberos, CredSSP
and certificate authentication, channel-binding-token validation, WS-Man Enumerate/Get/Put
(``winrm get winrm/config``), shell quotas and idle timeouts, the request-size
limit (``MaxEnvelopeSizekb``; Windows' default 500 KB is never reached by Ansible), and the exact
text of faults other than the operation timeout and shell-not-found.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import selectors
import shutil
import socket
import struct
import tempfile
import threading
import time
import traceback
import uuid
import xml.etree.ElementTree as ET
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Protocol
from xml.sax.saxutils import escape, quoteattr

import spnego
import yaml

from . import cmdline, psrp
from .tls import SelfSignedCertificate, generate_self_signed

__all__ = [
    "Backend",
    "CommandResult",
    "EmulatedHost",
    "Faults",
    "Fleet",
    "HostConfig",
    "HostStats",
]

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------- public data types


@dataclass
class CommandResult:
    rc: int
    stdout: bytes = b""
    stderr: bytes = b""
    # The host ran the command, but the connection drops before its answer goes out (a fault the host's model
    # raises, e.g. servicing: connection_drops_during_install).
    drop_connection: bool = False


class Backend(Protocol):
    """The Windows host model: decides what a command prints and returns."""

    name: str

    def run_command(self, command_line: str, stdin: bytes) -> CommandResult:
        """Run one WinRS command.

        ``command_line`` is what Windows hands to cmd.exe: ``rsp:Command`` and ``rsp:Arguments``
        joined with a space, at most 8,191 characters (cmd.exe refuses longer lines itself).
        ``stdin`` is every Send chunk for the command, base64-decoded and concatenated; ``b""`` if
        none came.
        """


STDOUT_TRANSFORMS = ("truncate", "garble", "clixml", "empty")


@dataclass
class Faults:
    """Misbehaviour of one host, as seen from the network.

    The fields may be changed while the fleet runs: every request reads them afresh.
    """

    reject_credentials: bool = False  # every authentication fails: 401 ("credentials were rejected")
    refuse_unencrypted: bool = False  # AllowUnencrypted=false: an unencrypted message over http -> HTTP 500, no body
    drop_on_receive: bool = False  # close the TCP connection instead of answering each command's first Receive
    hang: bool = False  # commands never finish: every Receive ends in the OperationTimeout fault
    delay_seconds: float = 0.0  # each command takes this long (TimedOut faults first, then the result)
    stdout_transform: str | None = None  # "truncate", "garble", "clixml" or "empty" (see _transform_output)

    def __post_init__(self) -> None:
        if self.stdout_transform not in (None, *STDOUT_TRANSFORMS):
            raise ValueError(f"stdout_transform must be one of {STDOUT_TRANSFORMS}, not {self.stdout_transform!r}")
        if self.delay_seconds < 0:
            raise ValueError("delay_seconds must not be negative")


TRANSPORTS = ("basic", "ntlm", "https")
CONNECTION_PLUGINS = ("winrm", "psrp")


@dataclass
class HostConfig:
    """One emulated Windows host: where it listens, how it authenticates, what answers commands."""

    name: str
    backend: Backend
    address: str = "127.0.0.1"
    port: int = 0  # 0: choose a free port
    transport: str = "basic"  # "basic", "ntlm" (both over http) or "https" (Basic and NTLM over TLS)
    username: str = "ansible"  # "DOMAIN\\user" is accepted too
    password: str = "Emulated-Passw0rd!"
    faults: Faults = field(default_factory=Faults)
    down: bool = False  # nothing listens at start: connection refused (see EmulatedHost.come_up)
    # What the inventory tells Ansible (client side; the server accepts either form):
    https_auth: str = "basic"  # ansible_winrm_transport for an https host: "basic" or "ntlm"
    message_encryption: str = "auto"  # ansible_winrm_message_encryption: "auto", "always" or "never"
    inventory_vars: dict[str, Any] = field(default_factory=dict)  # extra host vars for inventory()
    plugin: str = "winrm"  # ansible_connection the inventory names: "winrm" or "psrp" (both are served)
    powershell: str | None = "5.1"  # the PSRP endpoint's PowerShell version; None: no Microsoft.PowerShell endpoint

    def __post_init__(self) -> None:
        if self.transport not in TRANSPORTS:
            raise ValueError(f"transport must be one of {TRANSPORTS}, not {self.transport!r}")
        if self.https_auth not in ("basic", "ntlm"):
            raise ValueError(f"https_auth must be 'basic' or 'ntlm', not {self.https_auth!r}")
        if self.message_encryption not in ("auto", "always", "never"):
            raise ValueError(f"message_encryption must be auto, always or never, not {self.message_encryption!r}")
        if self.plugin not in CONNECTION_PLUGINS:
            raise ValueError(f"plugin must be one of {CONNECTION_PLUGINS}, not {self.plugin!r}")

    @property
    def scheme(self) -> str:
        return "https" if self.transport == "https" else "http"

    @property
    def accepts_basic(self) -> bool:
        return self.transport in ("basic", "https")

    @property
    def accepts_ntlm(self) -> bool:
        return self.transport in ("ntlm", "https")

    @property
    def client_auth(self) -> str:
        """The ``ansible_winrm_transport`` a client should use for this host."""
        return self.https_auth if self.transport == "https" else self.transport


@dataclass(frozen=True)
class HostStats:
    """A snapshot of one host's counters."""

    requests: int  # HTTP requests of any kind
    actions: dict[str, int]  # WS-Man requests by action: Create, Command, Send, Receive, Signal, Delete
    auth_requests: int  # authentication round trips: 401 answers and the empty NTLM set-up POST
    commands_run: int  # commands started (stdin complete); a hung command counts too
    operation_timeouts: int  # Receives answered with the w:TimedOut fault: the command was still running
    recent_commands: tuple[tuple[str, int], ...]  # the last N (command_line, stdin length), oldest first
    errors: tuple[str, ...]  # tracebacks of server or backend failures; empty in a healthy run
    bytes_received: int = 0  # HTTP request bodies, as sent on the wire
    bytes_sent: int = 0  # HTTP response bodies, as sent on the wire

    @property
    def protocol_requests(self) -> int:
        """The requests the exchange needs when every answer comes within the operation timeout: a Receive
        that ended in w:TimedOut measures how long the command ran (a loaded machine), not the protocol."""
        return self.requests - self.operation_timeouts


# ---------------------------------------------------------------------------- WS-Man vocabulary

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "p": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
}
SHELL_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
CMD_RESOURCE_URI = f"{SHELL_URI}/cmd"
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
FAULT_ACTION = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
ACTIONS = {
    "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create": "Create",
    f"{SHELL_URI}/Command": "Command",
    f"{SHELL_URI}/Send": "Send",
    f"{SHELL_URI}/Receive": "Receive",
    f"{SHELL_URI}/Signal": "Signal",
    "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete": "Delete",
}
RESPONSE_ACTIONS = {
    "Create": "http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse",
    "Command": f"{SHELL_URI}/CommandResponse",
    "Send": f"{SHELL_URI}/SendResponse",
    "Receive": f"{SHELL_URI}/ReceiveResponse",
    "Signal": f"{SHELL_URI}/SignalResponse",
    "Delete": "http://schemas.xmlsoap.org/ws/2004/09/transfer/DeleteResponse",
}
STATE_DONE = f"{SHELL_URI}/CommandState/Done"
STATE_RUNNING = f"{SHELL_URI}/CommandState/Running"

CODE_OPERATION_TIMEOUT = 2150858793  # 0x80338029 ERROR_WSMAN_OPERATION_TIMEDOUT
CODE_SHELL_NOT_FOUND = 2150858843  # 0x8033805B ERROR_WSMAN_UNEXPECTED_SELECTORS
CODE_INVALID_PARAMETER = 87
CODE_ACTION_NOT_SUPPORTED = 2150858754  # 0x80338002 ERROR_WSMAN_ACTION_NOT_SUPPORTED (approximate)
CODE_INTERNAL_ERROR = 2150858752  # 0x80338000
CODE_SCHEMA_VALIDATION = 2150858817  # 0x80338041 (approximate)
CODE_INVALID_RESOURCE_URI = 2150858778  # 0x8033801A ERROR_WSMAN_INVALID_RESOURCE_URI (approximate)
PSRP_NS = "http://schemas.microsoft.com/powershell"  # the creationXml element of a RunspacePool Create

DEFAULT_OPERATION_TIMEOUT = 60.0  # WinRM's MaxTimeoutms default when a request names none
DEFAULT_MAX_ENVELOPE = 512_000  # Windows' MaxEnvelopeSizekb default (500) when a request names none
CREATE_PROCESS_MAX_LINE = 32_766  # CreateProcess limit when WINRS_SKIP_CMD_SHELL=TRUE bypasses cmd.exe
CODE_FILENAME_EXCED_RANGE = 206  # CreateProcess's error for a longer line: "The filename or extension is too long."

# PowerShell writes progress records as CLIXML on stderr when stdout is redirected (first module
# load, Invoke-WebRequest, ...). Ansible strips them; the "clixml" fault checks that it does.
CLIXML_PROGRESS = (
    b"#< CLIXML\r\n"
    b'<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
    b'<Obj S="progress" RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T>'
    b"<T>System.Object</T></TN><MS><I64 N=\"SourceId\">1</I64><PR N=\"Record\">"
    b"<AV>Preparing modules for first use.</AV><AI>0</AI><Nil /><PI>-1</PI><PC>-1</PC>"
    b"<T>Completed</T><SR>-1</SR><SD> </SD></PR></MS></Obj></Objs>"
)


class WsmanFault(Exception):
    """A SOAP fault the service answers with HTTP 500."""

    def __init__(self, value: str, subcode: str, reason: str, wsman_code: int) -> None:
        super().__init__(reason)
        self.value = value  # s:Sender or s:Receiver
        self.subcode = subcode  # e.g. w:TimedOut
        self.reason = reason
        self.wsman_code = wsman_code

    def to_xml(self, relates_to: str | None, machine: str) -> bytes:
        text = escape(self.reason)
        body = (
            f"<s:Fault><s:Code><s:Value>{self.value}</s:Value><s:Subcode><s:Value>{self.subcode}</s:Value>"
            f'</s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">{text}</s:Text></s:Reason>'
            f'<s:Detail><f:WSManFault xmlns:f="{NS["f"]}" Code="{self.wsman_code}" Machine={quoteattr(machine)}>'
            f"<f:Message>{text}</f:Message></f:WSManFault></s:Detail></s:Fault>"
        )
        return _envelope(FAULT_ACTION, relates_to, body)


def _operation_timeout_fault() -> WsmanFault:
    return WsmanFault(
        "s:Receiver",
        "w:TimedOut",
        "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.  ",
        CODE_OPERATION_TIMEOUT,
    )


def _shell_not_found_fault(shell_id: str | None) -> WsmanFault:
    return WsmanFault(
        "s:Receiver",
        "w:InternalError",
        f"The request for the Windows Remote Shell with ShellId {shell_id} failed because the shell was not "
        "found on the server. Possible causes are: the specified ShellId is incorrect or the shell no longer "
        "exists on the server. Provide the correct ShellId or create a new shell and retry the operation. ",
        CODE_SHELL_NOT_FOUND,
    )


def _schema_fault(reason: str) -> WsmanFault:
    return WsmanFault("s:Sender", "w:SchemaValidationError", reason, CODE_SCHEMA_VALIDATION)


def _invalid_parameter_fault(what: str) -> WsmanFault:
    return WsmanFault("s:Sender", "w:InvalidParameter", f"The parameter is incorrect. ({what})", CODE_INVALID_PARAMETER)


def _envelope(action: str, relates_to: str | None, body: str) -> bytes:
    """A SOAP 1.2 response envelope as the WinRM service writes it."""
    relates = f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>" if relates_to else ""
    namespaces = " ".join(f'xmlns:{prefix}="{uri}"' for prefix, uri in NS.items() if prefix != "f")
    return (
        f'<s:Envelope xml:lang="en-US" {namespaces}><s:Header>'
        f"<a:Action>{action}</a:Action><a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID>"
        f"<a:To>{ANONYMOUS}</a:To>{relates}</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode("utf-8")


# ---------------------------------------------------------------------------- request parsing

_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d*)?)S)?)?")


def parse_duration(text: str | None, default: float) -> float:
    """Seconds in an xs:duration such as ``PT20S``, ``PT20.000S`` or ``P0DT0H1M0S``."""
    match = _DURATION.fullmatch((text or "").strip())
    if not text or not match:
        return default
    days, hours, minutes, seconds = (float(group or 0) for group in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


@dataclass
class _Request:
    action: str  # short name: Create, Command, ... or the full URI when unknown
    message_id: str | None
    resource_uri: str | None
    shell_id: str | None
    operation_timeout: float
    max_envelope_size: int
    options: dict[str, str]
    body: ET.Element


def _text(element: ET.Element | None) -> str | None:
    return element.text.strip() if element is not None and element.text else None


def _parse_request(soap: bytes) -> _Request:
    root = ET.fromstring(soap)
    header = root.find("s:Header", NS)
    body = root.find("s:Body", NS)
    if header is None or body is None:
        raise _schema_fault("The SOAP envelope has no Header or Body.")
    action_uri = _text(header.find("a:Action", NS)) or ""
    shell_id = None
    for selector in header.findall("w:SelectorSet/w:Selector", NS):
        if selector.get("Name") == "ShellId":
            shell_id = _text(selector)
    options = {
        option.get("Name", ""): (option.text or "").strip() for option in header.findall("w:OptionSet/w:Option", NS)
    }
    max_envelope = _text(header.find("w:MaxEnvelopeSize", NS))
    return _Request(
        action=ACTIONS.get(action_uri, action_uri),
        message_id=_text(header.find("a:MessageID", NS)),
        resource_uri=_text(header.find("w:ResourceURI", NS)),
        shell_id=shell_id,
        operation_timeout=parse_duration(_text(header.find("w:OperationTimeout", NS)), DEFAULT_OPERATION_TIMEOUT),
        max_envelope_size=int(max_envelope) if max_envelope and max_envelope.isdigit() else DEFAULT_MAX_ENVELOPE,
        options=options,
        body=body,
    )


# ---------------------------------------------------------------------------- shells and commands


class _DropConnection(Exception):
    """Close the TCP connection without answering (fault injection, or the server is stopping)."""


@dataclass
class _Command:
    id: str
    command_line: str
    console_stdin: bool  # WINRS_CONSOLEMODE_STDIN=TRUE: no stdin will come
    stdin: bytearray = field(default_factory=bytearray)
    stdin_closed: bool = False
    started: bool = False
    result: CommandResult | None = None
    stdout_sent: int = 0
    stderr_sent: int = 0
    receive_dropped: bool = False
    terminated: bool = False
    pipeline: Any = None  # PSRP: the pipeline's uuid in the shell's RunspacePool
    answered: bool = False  # PSRP: the result has been turned into PSRP messages
    refusal: CommandResult | None = None  # what cmd.exe answers instead of running the line

    @property
    def runnable(self) -> bool:
        return self.console_stdin or self.stdin_closed


@dataclass
class _Shell:
    id: str
    commands: dict[str, _Command] = field(default_factory=dict)
    psrp: psrp.RunspacePoolSession | None = None  # a RunspacePool on Microsoft.PowerShell, not a cmd shell


def _transform_output(result: CommandResult, transform: str | None) -> CommandResult:
    """Damage a command's output the way a broken host or network would."""
    if transform == "truncate":  # the host died half-way through writing its answer
        return CommandResult(result.rc, result.stdout[: len(result.stdout) // 2], result.stderr)
    if transform == "garble":  # binary noise instead of JSON: no line starts with { or [
        noise = result.stdout.translate(bytes.maketrans(b"{}[]", b"<>()"))
        return CommandResult(result.rc, b"\xff\xfe\x1b[31m" + noise, result.stderr)
    if transform == "clixml":  # PowerShell progress records on stderr, stdout intact
        return CommandResult(result.rc, result.stdout, CLIXML_PROGRESS + result.stderr)
    if transform == "empty":
        return CommandResult(result.rc, b"", result.stderr)
    return result


def _stream_element(name: str, command_id: str, data: bytes) -> str:
    return f'<rsp:Stream Name="{name}" CommandId="{command_id}">{base64.b64encode(data).decode("ascii")}</rsp:Stream>'


def _receive_body(command_id: str, stdout: bytes, stderr: bytes, exit_code: int | None) -> str:
    """``rsp:ReceiveResponse``; ``exit_code`` None means the command is still running."""
    parts = ["<rsp:ReceiveResponse>"]
    if stdout:
        parts.append(_stream_element("stdout", command_id, stdout))
    if stderr:
        parts.append(_stream_element("stderr", command_id, stderr))
    if exit_code is None:
        parts.append(f'<rsp:CommandState CommandId="{command_id}" State="{STATE_RUNNING}"/>')
    else:
        parts.append(f'<rsp:Stream Name="stdout" CommandId="{command_id}" End="true"/>')
        parts.append(f'<rsp:Stream Name="stderr" CommandId="{command_id}" End="true"/>')
        parts.append(
            f'<rsp:CommandState CommandId="{command_id}" State="{STATE_DONE}">'
            f"<rsp:ExitCode>{exit_code}</rsp:ExitCode></rsp:CommandState>"
        )
    parts.append("</rsp:ReceiveResponse>")
    return "".join(parts)


def _base64_capacity(chars: int) -> int:
    """How many raw bytes fit in ``chars`` characters of base64."""
    return max(chars, 0) // 4 * 3


class _HostService:
    """The WinRM service of one host: shells, commands, counters. Thread-safe."""

    def __init__(self, config: HostConfig, history: int) -> None:
        self.config = config
        self.machine = config.name
        self._cond = threading.Condition()
        self._shells: dict[str, _Shell] = {}
        self._stopping = False
        self._workers: list[threading.Thread] = []
        self._history = history
        self._handlers: dict[str, Callable[[_Request], str]] = {
            "Create": self._create,
            "Command": self._command,
            "Send": self._send,
            "Receive": self._receive,
            "Signal": self._signal,
            "Delete": self._delete,
        }
        self._psrp_handlers: dict[str, Callable[[_Request], str]] = {
            "Create": self._psrp_create,
            "Command": self._psrp_command,
            "Send": self._psrp_send,
            "Receive": self._psrp_receive,
            "Signal": self._signal,
            "Delete": self._delete,
        }
        self.reset_stats()

    # -- counters

    def reset_stats(self) -> None:
        with self._cond:
            self._requests = 0
            self._actions: Counter[str] = Counter()
            self._auth_requests = 0
            self._commands_run = 0
            self._operation_timeouts = 0
            self._recent: deque[tuple[str, int]] = deque(maxlen=self._history)
            self._errors: list[str] = []
            self._bytes_received = 0
            self._bytes_sent = 0

    def stats(self) -> HostStats:
        with self._cond:
            return HostStats(
                requests=self._requests,
                actions=dict(self._actions),
                auth_requests=self._auth_requests,
                commands_run=self._commands_run,
                operation_timeouts=self._operation_timeouts,
                recent_commands=tuple(self._recent),
                errors=tuple(self._errors),
                bytes_received=self._bytes_received,
                bytes_sent=self._bytes_sent,
            )

    def count_request(self, body_bytes: int = 0) -> None:
        with self._cond:
            self._requests += 1
            self._bytes_received += body_bytes

    def count_sent(self, body_bytes: int) -> None:
        with self._cond:
            self._bytes_sent += body_bytes

    def count_auth_request(self) -> None:
        with self._cond:
            self._auth_requests += 1

    def record_error(self, text: str) -> None:
        log.error("%s: %s", self.machine, text)
        with self._cond:
            self._errors.append(text)

    # -- life cycle

    def stop(self) -> None:
        """Wake every waiting Receive (they drop their connection) and stop accepting work."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def restart(self) -> None:
        """Serve again after stop(), like a rebooted machine: no shell survives."""
        with self._cond:
            for shell in self._shells.values():
                for command in shell.commands.values():
                    command.terminated = True
            self._shells.clear()
            self._stopping = False

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for worker in list(self._workers):
            worker.join(max(0.0, deadline - time.monotonic()))

    # -- dispatch

    def handle(self, soap: bytes) -> tuple[int, bytes]:
        """Answer one SOAP request: (HTTP status, response envelope). May raise _DropConnection."""
        try:
            request = _parse_request(soap)
        except ET.ParseError as exc:
            return 500, _schema_fault(f"The request is not well-formed XML: {exc}").to_xml(None, self.machine)
        except WsmanFault as fault:
            return 500, fault.to_xml(None, self.machine)
        with self._cond:
            self._actions[request.action] += 1
        try:
            configuration = psrp.configuration_name(request.resource_uri)
            handlers = self._handlers if configuration is None else self._psrp_handlers
            handler = handlers.get(request.action)
            if handler is None:
                raise WsmanFault("s:Sender", "a:ActionNotSupported", f"The action {request.action} is not supported.",
                                 CODE_ACTION_NOT_SUPPORTED)
            if configuration is not None:
                self._check_configuration(configuration)
            elif request.resource_uri != CMD_RESOURCE_URI:
                raise WsmanFault("s:Sender", "w:DestinationUnreachable",
                                 f"The resource URI {request.resource_uri} is not supported (only the cmd shell is).",
                                 CODE_ACTION_NOT_SUPPORTED)
            body = handler(request)
        except WsmanFault as fault:
            return 500, fault.to_xml(request.message_id, self.machine)
        return 200, _envelope(RESPONSE_ACTIONS[request.action], request.message_id, body)

    def _shell(self, request: _Request) -> _Shell:
        shell = self._shells.get(request.shell_id or "")
        # A RunspacePool is only reached through its PowerShell resource URI, a cmd shell through cmd's.
        if shell is None or (shell.psrp is None) != (request.resource_uri == CMD_RESOURCE_URI):
            raise _shell_not_found_fault(request.shell_id)
        return shell

    def _command_of(self, shell: _Shell, command_id: str | None) -> _Command:
        command = shell.commands.get(command_id or "")
        if command is None:
            raise _invalid_parameter_fault(f"no command with CommandId {command_id}")
        return command

    # -- actions

    def _create(self, request: _Request) -> str:
        shell_id = str(uuid.uuid4()).upper()
        with self._cond:
            self._shells[shell_id] = _Shell(shell_id)
        input_streams = _text(request.body.find("rsp:Shell/rsp:InputStreams", NS)) or "stdin"
        output_streams = _text(request.body.find("rsp:Shell/rsp:OutputStreams", NS)) or "stdout stderr"
        return (
            f"<x:ResourceCreated><a:Address>{ANONYMOUS}</a:Address><a:ReferenceParameters>"
            f"<w:ResourceURI>{CMD_RESOURCE_URI}</w:ResourceURI><w:SelectorSet>"
            f'<w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet></a:ReferenceParameters>'
            f"</x:ResourceCreated><rsp:Shell><rsp:ShellId>{shell_id}</rsp:ShellId>"
            f"<rsp:ResourceUri>{CMD_RESOURCE_URI}</rsp:ResourceUri>"
            f"<rsp:Owner>{escape(self.config.username)}</rsp:Owner>"
            f"<rsp:InputStreams>{escape(input_streams)}</rsp:InputStreams>"
            f"<rsp:OutputStreams>{escape(output_streams)}</rsp:OutputStreams></rsp:Shell>"
        )

    def _command(self, request: _Request) -> str:
        command_line_element = request.body.find("rsp:CommandLine", NS)
        if command_line_element is None:
            raise _invalid_parameter_fault("rsp:CommandLine missing")
        executable = (command_line_element.findtext("rsp:Command", "", NS) or "").strip()
        arguments = [element.text or "" for element in command_line_element.findall("rsp:Arguments", NS)]
        line = cmdline.join_command_line(executable, arguments)
        skip_cmd_shell = request.options.get("WINRS_SKIP_CMD_SHELL", "FALSE").upper() == "TRUE"
        refusal = None
        if skip_cmd_shell:
            if len(line) > CREATE_PROCESS_MAX_LINE:
                # No process starts; the fault's shape is approximate, its code is CreateProcess's error.
                raise WsmanFault("s:Receiver", "w:InternalError", "The filename or extension is too long. ",
                                 CODE_FILENAME_EXCED_RANGE)
        else:
            refused = cmdline.cmd_exe_refusal(line)
            if refused is not None:
                refusal = CommandResult(rc=refused[0], stderr=refused[1].encode("ascii"))
        console_stdin = request.options.get("WINRS_CONSOLEMODE_STDIN", "FALSE").upper() == "TRUE"
        command_id = str(uuid.uuid4()).upper()
        with self._cond:
            shell = self._shell(request)
            shell.commands[command_id] = _Command(command_id, line, console_stdin, refusal=refusal)
        return f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId></rsp:CommandResponse>"

    def _send(self, request: _Request) -> str:
        streams = request.body.findall("rsp:Send/rsp:Stream", NS)
        with self._cond:
            shell = self._shell(request)
            for stream in streams:
                command = self._command_of(shell, stream.get("CommandId"))
                if stream.get("Name", "stdin") != "stdin":
                    raise _invalid_parameter_fault(f"unknown input stream {stream.get('Name')}")
                if not command.stdin_closed:
                    command.stdin += base64.b64decode(stream.text or "")
                    command.stdin_closed = (stream.get("End") or "").lower() == "true"
            self._cond.notify_all()
        return "<rsp:SendResponse/>"

    def _receive(self, request: _Request) -> str:
        desired = request.body.find("rsp:Receive/rsp:DesiredStream", NS)
        command_id = desired.get("CommandId") if desired is not None else None
        deadline = time.monotonic() + request.operation_timeout
        with self._cond:
            command = self._command_of(self._shell(request), command_id)
            if self.config.faults.drop_on_receive and not command.receive_dropped:
                # The host runs the command; only its answer is lost on the way.
                command.receive_dropped = True
                if command.runnable and not command.started:
                    self._start(command)
                raise _DropConnection()
            # Windows starts the process at Command time; what the process prints depends on its
            # whole stdin, so the emulator runs it once stdin is complete.
            self._wait_until(lambda: command.runnable or command.terminated, deadline)
            if not command.started and not command.terminated:
                self._start(command)
            self._wait_until(lambda: command.result is not None or command.terminated, deadline)
            if command.terminated or command.result is None:
                raise _invalid_parameter_fault(f"command {command_id} was terminated")
            if command.result.drop_connection and not command.receive_dropped:
                command.receive_dropped = True
                raise _DropConnection()
            return self._next_output(command, request)

    def _wait_until(self, ready: Callable[[], bool], deadline: float) -> None:
        """Wait (holding the condition) until ``ready()``; TimedOut fault at the deadline."""
        while not ready():
            if self._stopping:
                raise _DropConnection()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._operation_timeouts += 1   # the caller holds self._cond
                raise _operation_timeout_fault()
            self._cond.wait(remaining)

    def _next_output(self, command: _Command, request: _Request) -> str:
        """The next Receive answer: as much output as fits in MaxEnvelopeSize, Done when all is out."""
        assert command.result is not None
        result = command.result
        stdout_left = result.stdout[command.stdout_sent:]
        stderr_left = result.stderr[command.stderr_sent:]
        # Measure the envelope with empty streams in its largest (final) form; output fills the rest.
        empty = _envelope(RESPONSE_ACTIONS["Receive"], request.message_id,
                          _receive_body(command.id, b"", b"", result.rc))
        wrappers = len(_stream_element("stdout", command.id, b"")) + len(_stream_element("stderr", command.id, b""))
        budget = request.max_envelope_size - len(empty) - wrappers
        stdout_part = stdout_left[: max(_base64_capacity(budget), 3)]
        budget -= len(base64.b64encode(stdout_part))
        stderr_part = stderr_left[: _base64_capacity(budget)] if len(stdout_part) == len(stdout_left) else b""
        command.stdout_sent += len(stdout_part)
        command.stderr_sent += len(stderr_part)
        finished = command.stdout_sent == len(result.stdout) and command.stderr_sent == len(result.stderr)
        return _receive_body(command.id, stdout_part, stderr_part, result.rc if finished else None)

    def _start(self, command: _Command) -> None:
        """Start a runnable command (called with the condition held)."""
        command.started = True
        self._commands_run += 1
        self._recent.append((command.command_line, len(command.stdin)))
        if self.config.faults.hang:
            return  # the process never exits; every Receive times out
        worker = threading.Thread(
            target=self._run_backend,
            args=(command, bytes(command.stdin)),
            name=f"wsman-{self.machine}-command",
            daemon=True,
        )
        self._workers = [w for w in self._workers if w.is_alive()] + [worker]
        worker.start()

    def _run_backend(self, command: _Command, stdin: bytes) -> None:
        try:
            result = command.refusal or self.config.backend.run_command(command.command_line, stdin)
        except Exception:  # the backend is a model of the host: a crash of it is a test failure
            self.record_error(f"backend {self.config.backend.name!r} failed:\n{traceback.format_exc()}")
            result = CommandResult(rc=1, stderr=b"emulator backend failure, see the host's stats().errors\r\n")
        result = _transform_output(result, self.config.faults.stdout_transform)
        if self.config.faults.delay_seconds:
            with self._cond:
                # A slow command: the result appears only after the delay (or when stopping).
                self._cond.wait_for(lambda: self._stopping, self.config.faults.delay_seconds)
        with self._cond:
            command.result = result
            self._cond.notify_all()

    def _signal(self, request: _Request) -> str:
        signal = request.body.find("rsp:Signal", NS)
        command_id = signal.get("CommandId") if signal is not None else None
        with self._cond:
            shell = self._shell(request)
            command = shell.commands.pop(command_id or "", None)
            if command is not None:
                command.terminated = True
                if shell.psrp is not None and command.pipeline is not None:
                    shell.psrp.stop_pipeline(command.pipeline)
                self._cond.notify_all()
        return "<rsp:SignalResponse/>"

    def _delete(self, request: _Request) -> str:
        with self._cond:
            shell = self._shell(request)
            del self._shells[shell.id]
            for command in shell.commands.values():
                command.terminated = True
            self._cond.notify_all()
        return ""

    # -- PSRP: a RunspacePool on the Microsoft.PowerShell session configuration (emulator.psrp)

    def _check_configuration(self, configuration: str) -> None:
        if self.config.powershell is None or configuration.lower() != psrp.DEFAULT_CONFIGURATION.lower():
            # No PowerShell (or another endpoint): WinRM finds no such session configuration.
            raise WsmanFault("s:Sender", "w:InvalidResourceURI",
                             f"The WS-Management service cannot process the request. Cannot find the {configuration} "
                             f"session configuration in the WSMan: drive on the {self.machine} computer. ",
                             CODE_INVALID_RESOURCE_URI)

    def _psrp_create(self, request: _Request) -> str:
        shell_element = request.body.find("rsp:Shell", NS)
        creation = request.body.find(f"rsp:Shell/{{{PSRP_NS}}}creationXml", NS)
        if shell_element is None or creation is None or not creation.text:
            raise _invalid_parameter_fault("a RunspacePool Create needs rsp:Shell/creationXml")
        # MS-PSRP 3.1.5.3.1: the client names the shell after its RunspacePool id.
        shell_id = (shell_element.get("ShellId") or str(uuid.uuid4())).upper()
        assert self.config.powershell is not None  # _check_configuration refused the Create otherwise
        try:
            session = psrp.RunspacePoolSession(shell_id, self.config.powershell, base64.b64decode(creation.text))
        except Exception as exc:  # psrpcore refuses malformed or out-of-order messages
            raise _invalid_parameter_fault(f"the RunspacePool could not be opened: {exc}") from exc
        with self._cond:
            self._shells[shell_id] = _Shell(shell_id, psrp=session)
        resource_uri = escape(request.resource_uri or "")
        return (
            f"<x:ResourceCreated><a:Address>{ANONYMOUS}</a:Address><a:ReferenceParameters>"
            f"<w:ResourceURI>{resource_uri}</w:ResourceURI><w:SelectorSet>"
            f'<w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet></a:ReferenceParameters>'
            f"</x:ResourceCreated><rsp:Shell><rsp:ShellId>{shell_id}</rsp:ShellId>"
            f"<rsp:ResourceUri>{resource_uri}</rsp:ResourceUri>"
            f"<rsp:Owner>{escape(self.config.username)}</rsp:Owner>"
            f"<rsp:InputStreams>stdin pr</rsp:InputStreams><rsp:OutputStreams>stdout</rsp:OutputStreams></rsp:Shell>"
        )

    def _psrp_session(self, shell: _Shell) -> psrp.RunspacePoolSession:
        assert shell.psrp is not None  # _shell() only returns RunspacePools for PowerShell resource URIs
        return shell.psrp

    def _psrp_command(self, request: _Request) -> str:
        command_line = request.body.find("rsp:CommandLine", NS)
        arguments = command_line.findall("rsp:Arguments", NS) if command_line is not None else []
        if command_line is None or not arguments or not arguments[0].text:
            raise _invalid_parameter_fault("a pipeline Command needs its CREATE_PIPELINE fragment in rsp:Arguments")
        # pypsrp names the command after its pipeline id, and Windows keeps it (MS-PSRP 3.1.5.3.4).
        command_id = (command_line.get("CommandId") or str(uuid.uuid4())).upper()
        with self._cond:
            session = self._psrp_session(self._shell(request))
            try:
                pipeline = session.create_pipeline(command_id, base64.b64decode(arguments[0].text))
            except Exception as exc:
                raise _invalid_parameter_fault(f"the pipeline could not be created: {exc}") from exc
            command = _Command(command_id, "", console_stdin=False, pipeline=pipeline)
            self._shell(request).commands[command_id] = command
            self._sync_pipeline(command, session)
        return f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId></rsp:CommandResponse>"

    def _psrp_send(self, request: _Request) -> str:
        streams = request.body.findall("rsp:Send/rsp:Stream", NS)
        with self._cond:
            shell = self._shell(request)
            session = self._psrp_session(shell)
            for stream in streams:
                if stream.get("Name") not in ("stdin", "pr"):
                    raise _invalid_parameter_fault(f"unknown input stream {stream.get('Name')}")
                try:
                    session.receive_data(base64.b64decode(stream.text or ""))
                except Exception as exc:
                    raise _invalid_parameter_fault(f"unreadable PSRP data: {exc}") from exc
            for command in shell.commands.values():
                self._sync_pipeline(command, session)
            self._cond.notify_all()
        return "<rsp:SendResponse/>"

    @staticmethod
    def _sync_pipeline(command: _Command, session: psrp.RunspacePoolSession) -> None:
        """Carry what the client has sent of a pipeline (its script, then its input) over to the command."""
        asked = session.requests.get(command.pipeline)
        if asked is None:
            return  # CREATE_PIPELINE is still coming, fragment by fragment
        if not command.command_line and asked.script is not None:
            command.command_line = psrp.backend_invocation(asked.script)
        command.console_stdin = asked.no_input
        if asked.input_ended and not command.stdin_closed:
            command.stdin = bytearray(asked.stdin)
            command.stdin_closed = True

    def _psrp_receive(self, request: _Request) -> str:
        desired = request.body.find("rsp:Receive/rsp:DesiredStream", NS)
        command_id = desired.get("CommandId") if desired is not None else None
        deadline = time.monotonic() + request.operation_timeout
        with self._cond:
            shell = self._shell(request)
            session = self._psrp_session(shell)
            if command_id is None:  # the RunspacePool's own messages (opening, key exchange)
                self._wait_until(lambda: session.pending(None) or shell.id not in self._shells, deadline)
                data = session.take(None, self._psrp_budget(request, None))
                encoded = base64.b64encode(data).decode("ascii")
                return f'<rsp:ReceiveResponse><rsp:Stream Name="stdout">{encoded}</rsp:Stream></rsp:ReceiveResponse>'
            command = self._command_of(shell, command_id)
            if self.config.faults.drop_on_receive and not command.receive_dropped:
                command.receive_dropped = True
                if command.runnable and not command.started:
                    self._start_pipeline(command, session)
                raise _DropConnection()
            if not session.pending(command.pipeline):
                self._wait_until(lambda: command.runnable or command.terminated, deadline)
                if not command.started and not command.terminated:
                    self._start_pipeline(command, session)
                self._wait_until(lambda: command.result is not None or command.terminated, deadline)
            if command.terminated:
                raise _invalid_parameter_fault(f"command {command_id} was terminated")
            if command.result is not None and not command.answered:
                command.answered = True
                result = command.result
                session.finish_pipeline(command.pipeline, result.rc, result.stdout, result.stderr)
            data = session.take(command.pipeline, self._psrp_budget(request, command.id))
            done = session.finished(command.pipeline) and not session.pending(command.pipeline)
            state = (f'<rsp:CommandState CommandId="{command.id}" State="{STATE_DONE}"><rsp:ExitCode>0</rsp:ExitCode>'
                     "</rsp:CommandState>" if done else
                     f'<rsp:CommandState CommandId="{command.id}" State="{STATE_RUNNING}"/>')
            return f"<rsp:ReceiveResponse>{_stream_element('stdout', command.id, data)}{state}</rsp:ReceiveResponse>"

    def _start_pipeline(self, command: _Command, session: psrp.RunspacePoolSession) -> None:
        """Start a runnable pipeline (condition held): its script goes to the backend like a cmd-shell command."""
        session.start_pipeline(command.pipeline)
        if session.requests[command.pipeline].script is None:
            command.started = True
            command.result = CommandResult(1, stderr=b"The emulated host runs only pipelines of one script.")
            return
        self._start(command)

    def _psrp_budget(self, request: _Request, command_id: str | None) -> int:
        """Bytes of PSRP fragments that fit one Receive answer within the request's MaxEnvelopeSize."""
        empty = _envelope(RESPONSE_ACTIONS["Receive"], request.message_id,
                          "<rsp:ReceiveResponse>" + _stream_element("stdout", command_id or "", b"")
                          + _receive_body(command_id or "", b"", b"", 0) + "</rsp:ReceiveResponse>")
        return _base64_capacity(request.max_envelope_size - len(empty))


# ---------------------------------------------------------------------------- NTLM credentials


class _NtlmUserFile:
    """The process-wide ``NTLM_USER_FILE`` pyspnego's NTLM acceptor reads its accounts from.

    pyspnego looks the file up through the environment at every authentication, so all NTLM
    hosts of the process share one file. It is written (and the variable set) from the thread
    that starts a fleet, before any listener runs, so no thread ever sees the environment change
    while it serves. Two hosts may not give the same user name different passwords; each host
    still checks that the authenticated user is its own.
    """

    _lock = threading.Lock()
    _accounts: Counter[tuple[str, str, str]] = Counter()
    _directory: str | None = None
    _previous: str | None = None

    @classmethod
    def register(cls, domain: str, user: str, password: str) -> None:
        with cls._lock:
            for other_domain, other_user, other_password in cls._accounts:
                same_user = (other_domain.lower(), other_user.lower()) == (domain.lower(), user.lower())
                if same_user and other_password != password:
                    raise ValueError(f"NTLM hosts of one process must give user {user!r} the same password")
            cls._accounts[(domain, user, password)] += 1
            cls._write()

    @classmethod
    def unregister(cls, domain: str, user: str, password: str) -> None:
        with cls._lock:
            cls._accounts[(domain, user, password)] -= 1
            cls._accounts = +cls._accounts  # drop accounts nobody uses any more
            if cls._accounts:
                cls._write()
                return
            if cls._previous is None:
                os.environ.pop("NTLM_USER_FILE", None)
            else:
                os.environ["NTLM_USER_FILE"] = cls._previous
            if cls._directory:
                shutil.rmtree(cls._directory, ignore_errors=True)
            cls._directory = None

    @classmethod
    def _write(cls) -> None:
        if cls._directory is None:
            cls._directory = tempfile.mkdtemp(prefix="emulator-ntlm-")
            cls._previous = os.environ.get("NTLM_USER_FILE")
        path = os.path.join(cls._directory, "users")
        lines = "".join(f"{domain}:{user}:{password}\n" for domain, user, password in cls._accounts)
        temporary = path + ".tmp"
        with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
            handle.write(lines)
        os.replace(temporary, path)  # an acceptor reading concurrently sees the old or the new file
        os.environ["NTLM_USER_FILE"] = path


def _split_account(username: str) -> tuple[str, str]:
    domain, _sep, user = username.rpartition("\\")
    return domain, user


def _same_account(configured: str, principal: str | None) -> bool:
    configured_domain, configured_user = _split_account(configured)
    domain, user = _split_account(principal or "")
    if user.lower() != configured_user.lower():
        return False
    return not configured_domain or configured_domain.lower() == domain.lower()


# ---------------------------------------------------------------------------- HTTP layer

ENCRYPTED_BOUNDARY = b"--Encrypted Boundary"
ENCRYPTED_PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"
ENCRYPTED_CONTENT_TYPE = f'multipart/encrypted;protocol="{ENCRYPTED_PROTOCOL}";boundary="Encrypted Boundary"'
SOAP_CONTENT_TYPE = "application/soap+xml;charset=UTF-8"
_OCTET_STREAM_PART = ENCRYPTED_BOUNDARY + b"\r\n\tContent-Type: application/octet-stream\r\n"
_IDLE_CONNECTION_TIMEOUT = 300.0  # seconds a keep-alive connection may stay silent
_TLS_HANDSHAKE_TIMEOUT = 10.0


class _WinRMRequestHandler(BaseHTTPRequestHandler):
    """One TCP connection to the WinRM HTTP listener (HTTP/1.1 keep-alive).

    An NTLM security context belongs to the connection, so it lives on this handler instance.
    Responses are written with a single ``sendall`` (and Nagle disabled): separate header and
    body writes cost a delayed-ACK round trip of about 40 ms each.
    """

    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = _IDLE_CONNECTION_TIMEOUT
    server: _Listener  # type: ignore[assignment]  # what BaseRequestHandler was given as "server"

    def setup(self) -> None:
        super().setup()
        self.ntlm: spnego.ContextProxy | None = None

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (http.server's signature)
        """Silence http.server's per-request stderr logging."""

    @property
    def service(self) -> _HostService:
        return self.server.service

    @property
    def config(self) -> HostConfig:
        return self.server.service.config

    # -- HTTP methods

    def do_GET(self) -> None:  # noqa: N802  (http.server naming)
        self._read_body()
        self.service.count_request()
        self._send(405, headers=[("Allow", "POST")])

    def do_POST(self) -> None:  # noqa: N802
        body = self._read_body()
        self.service.count_request(len(body))
        if self.path.split("?", 1)[0].rstrip("/").lower() != "/wsman":
            self._send(404)
            return
        if not self._authenticate():
            return
        encrypted = self.headers.get("Content-Type", "").lower().startswith("multipart/encrypted")
        if encrypted:
            try:
                soap = self._unwrap(body)
            except Exception:  # wrong context (a new connection) or tampered data: Windows says 400
                self._send(400)
                return
        else:
            soap = body
        if not soap:
            # pywinrm's empty POST that sets up NTLM before encrypting anything.
            self.service.count_auth_request()
            self._send(200)
            return
        if not encrypted and self.config.scheme == "http" and self.config.faults.refuse_unencrypted:
            self._send(500)  # AllowUnencrypted=false: no SOAP body at all
            return
        try:
            status, reply = self.service.handle(soap)
        except _DropConnection:
            self._drop()
            return
        except Exception:
            self.service.record_error(traceback.format_exc())
            fault = WsmanFault("s:Receiver", "w:InternalError", "Internal error in the emulated WinRM service.",
                               CODE_INTERNAL_ERROR)
            status, reply = 500, fault.to_xml(None, self.service.machine)
        if encrypted:
            self._send(status, self._wrap(reply), [("Content-Type", ENCRYPTED_CONTENT_TYPE)])
        else:
            self._send(status, reply, [("Content-Type", SOAP_CONTENT_TYPE)])

    # -- authentication

    def _challenge_headers(self, token: str | None = None, scheme: str = "Negotiate") -> list[tuple[str, str]]:
        if token is not None:
            return [("WWW-Authenticate", f"{scheme} {token}")]
        headers = []
        if self.config.accepts_ntlm:
            headers.append(("WWW-Authenticate", "Negotiate"))
        if self.config.accepts_basic:
            headers.append(("WWW-Authenticate", 'Basic realm="WSMAN"'))
        return headers

    def _unauthorized(self, token: str | None = None, scheme: str = "Negotiate") -> bool:
        self.service.count_auth_request()
        self._send(401, headers=self._challenge_headers(token, scheme))
        return False

    def _authenticate(self) -> bool:
        """True when the request may go on; otherwise a 401 has been sent."""
        scheme, _sep, value = self.headers.get("Authorization", "").strip().partition(" ")
        if scheme.lower() == "basic" and self.config.accepts_basic:
            return self._basic(value.strip()) or self._unauthorized()
        if scheme.lower() in ("negotiate", "ntlm") and self.config.accepts_ntlm:
            return self._ntlm_step(scheme, value.strip())
        if self.ntlm is not None and self.ntlm.complete:
            return True  # NTLM authenticates the connection, not each request
        return self._unauthorized()

    def _basic(self, value: str) -> bool:
        if self.config.faults.reject_credentials:
            return False
        try:
            user, _sep, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return _same_account(self.config.username, user.removeprefix(".\\")) and password == self.config.password

    def _ntlm_step(self, scheme: str, value: str) -> bool:
        try:
            token = base64.b64decode(value, validate=True)
        except ValueError:
            return self._unauthorized()
        message_type = int.from_bytes(token[8:12], "little") if token.startswith(b"NTLMSSP\0") else 0
        if message_type == 1:  # NEGOTIATE: start a new context on this connection
            self.ntlm = spnego.server(protocol="ntlm")
            try:
                challenge = self.ntlm.step(token) or b""
            except spnego.exceptions.SpnegoError:
                self.ntlm = None
                return self._unauthorized()
            return self._unauthorized(base64.b64encode(challenge).decode("ascii"), scheme)
        if message_type == 3 and self.ntlm is not None and not self.ntlm.complete:  # AUTHENTICATE
            context, self.ntlm = self.ntlm, None
            if self.config.faults.reject_credentials:
                return self._unauthorized()
            try:
                context.step(token)
            except spnego.exceptions.SpnegoError:  # wrong password or unknown user
                return self._unauthorized()
            if not _same_account(self.config.username, context.client_principal):
                return self._unauthorized()
            self.ntlm = context
            return True
        return self._unauthorized()

    # -- message encryption (MS-WSMV 2.2.9.1.1)

    def _unwrap(self, body: bytes) -> bytes:
        if self.ntlm is None or not self.ntlm.complete:
            raise ValueError("encrypted message on a connection without an NTLM context")
        start = body.index(_OCTET_STREAM_PART)
        length = int(re.search(rb"Length=(\d+)", body[:start]).group(1))  # type: ignore[union-attr]
        end = body.rindex(ENCRYPTED_BOUNDARY + b"--")
        payload = body[start + len(_OCTET_STREAM_PART): end]
        # <le32 signature length><signature><sealed data>: unwrap takes signature + sealed data.
        message = self.ntlm.unwrap(payload[4:]).data
        if len(message) != length:
            raise ValueError("decrypted length does not match OriginalContent")
        return message

    def _wrap(self, message: bytes) -> bytes:
        assert self.ntlm is not None
        sealed = self.ntlm.wrap(message, encrypt=True).data  # the first 16 bytes are the signature
        return b"".join([
            ENCRYPTED_BOUNDARY, b"\r\n",
            f"\tContent-Type: {ENCRYPTED_PROTOCOL}\r\n".encode("ascii"),
            f"\tOriginalContent: type={SOAP_CONTENT_TYPE};Length={len(message)}\r\n".encode("ascii"),
            _OCTET_STREAM_PART, struct.pack("<I", 16), sealed,
            ENCRYPTED_BOUNDARY, b"--\r\n",
        ])

    # -- raw HTTP

    def _read_body(self) -> bytes:
        """Read the request body; it must be consumed to keep the connection usable."""
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status: int, body: bytes = b"", headers: Iterable[tuple[str, str]] = ()) -> None:
        reason = self.responses.get(status, ("",))[0]
        lines = [
            f"HTTP/1.1 {status} {reason}",
            f"Server: {self.server_version}",
            f"Date: {formatdate(usegmt=True)}",
            *(f"{name}: {value}" for name, value in headers),
            f"Content-Length: {len(body)}",
        ]
        if self.close_connection:
            lines.append("Connection: close")
        self.service.count_sent(len(body))
        self.wfile.write("\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + body)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class _Listener:
    """Accepts TCP connections for one host; one thread per connection.

    The accept loop waits on a selector that also watches a wake-up socket, so ``stop()`` takes
    effect at once without polling.
    """

    def __init__(self, service: _HostService, address: str, port: int, tls: SelfSignedCertificate | None) -> None:
        self.service = service
        self._tls_context = tls.server_context() if tls else None
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((address, port))
            self._socket.listen(128)
        except OSError:
            self._socket.close()
            raise
        self._socket.setblocking(False)
        self.port: int = self._socket.getsockname()[1]
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._threads: set[threading.Thread] = set()
        self._closing = False
        self._thread = threading.Thread(target=self._accept_loop, name=f"wsman-{service.machine}-listener", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def begin_stop(self) -> None:
        """Stop accepting and cut every open connection (their threads then end)."""
        with self._lock:
            self._closing = True
            connections = list(self._connections)
        self._wake_writer.send(b"x")
        for connection in connections:
            _shutdown_quietly(connection)

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        self._thread.join(timeout)
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        for sock in (self._socket, self._wake_reader, self._wake_writer):
            sock.close()

    def _accept_loop(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._socket, selectors.EVENT_READ)
            selector.register(self._wake_reader, selectors.EVENT_READ)
            while True:
                for key, _events in selector.select():
                    if key.fileobj is self._wake_reader:
                        return
                    try:
                        connection, peer = self._socket.accept()
                    except (BlockingIOError, InterruptedError):
                        continue
                    self._spawn(connection, peer)

    def _spawn(self, connection: socket.socket, peer: tuple[str, int]) -> None:
        connection.setblocking(True)
        thread = threading.Thread(target=self._serve, args=(connection, peer),
                                  name=f"wsman-{self.service.machine}-connection", daemon=True)
        with self._lock:
            if self._closing:
                connection.close()
                return
            self._connections.add(connection)
            # A thread stays listed until it has ended, so join() waits for its last statement too.
            self._threads = {t for t in self._threads if t.is_alive()}
            self._threads.add(thread)
            thread.start()   # under the lock: join() never sees a thread that has not started

    def _serve(self, connection: socket.socket, peer: tuple[str, int]) -> None:
        current = connection
        try:
            if self._tls_context is not None:
                connection.settimeout(_TLS_HANDSHAKE_TIMEOUT)
                current = self._tls_context.wrap_socket(connection, server_side=True)
                self._replace(connection, current)
            _WinRMRequestHandler(current, peer, self)  # type: ignore[arg-type]
        except OSError:
            pass  # the client went away, or stop() cut the connection
        except Exception:
            self.service.record_error(traceback.format_exc())
        finally:
            with self._lock:
                self._connections.discard(connection)
                self._connections.discard(current)
            current.close()

    def _replace(self, raw: socket.socket, wrapped: socket.socket) -> None:
        """Track the TLS socket instead of the raw one it took over."""
        with self._lock:
            self._connections.discard(raw)
            self._connections.add(wrapped)
            closing = self._closing
        if closing:
            _shutdown_quietly(wrapped)


def _shutdown_quietly(connection: socket.socket) -> None:
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _reserve_unused_port(address: str) -> int:
    """A port nothing listens on (for a host that is down: connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]


# ---------------------------------------------------------------------------- the fleet


class EmulatedHost:
    """A running (or down) emulated host: where to reach it and what it has seen."""

    def __init__(self, config: HostConfig, history: int) -> None:
        self.config = config
        self.service = _HostService(config, history)
        self.port = config.port
        self.certificate: SelfSignedCertificate | None = None
        self._listener: _Listener | None = None
        self._placeholder: socket.socket | None = None   # holds the port while the host is down

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def address(self) -> str:
        return self.config.address

    @property
    def endpoint(self) -> str:
        return f"{self.config.scheme}://{self.address}:{self.port}/wsman"

    def stats(self) -> HostStats:
        return self.service.stats()

    def reset_stats(self) -> None:
        self.service.reset_stats()

    def inventory_vars(self, plugin: str | None = None) -> dict[str, Any]:
        """The host vars that make Ansible reach this host over WinRM, with ``plugin`` (default: the host's)."""
        config = self.config
        if (plugin or config.plugin) == "psrp":
            return self._psrp_inventory_vars()
        host_vars: dict[str, Any] = {
            "ansible_host": self.address,
            "ansible_port": self.port,
            "ansible_connection": "winrm",
            "ansible_winrm_transport": config.client_auth,
            "ansible_winrm_scheme": config.scheme,  # a custom port otherwise means https
            "ansible_user": config.username,
            "ansible_password": config.password,
            "ansible_winrm_message_encryption": config.message_encryption,
        }
        if config.scheme == "https":
            host_vars["ansible_winrm_server_cert_validation"] = "ignore"
        host_vars.update(config.inventory_vars)
        return host_vars

    def _psrp_inventory_vars(self) -> dict[str, Any]:
        """The same listener through the ``psrp`` connection plugin (ansible_psrp_* options)."""
        config = self.config
        host_vars: dict[str, Any] = {
            "ansible_host": self.address,
            "ansible_port": self.port,
            "ansible_connection": "psrp",
            "ansible_psrp_auth": config.client_auth,
            "ansible_psrp_protocol": config.scheme,  # a custom port otherwise means https
            "ansible_user": config.username,
            "ansible_password": config.password,
        }
        if config.scheme == "https":
            host_vars["ansible_psrp_cert_validation"] = "ignore"
        elif config.client_auth == "basic":
            # pypsrp refuses Basic over http unless told not to encrypt (Basic cannot seal messages).
            host_vars["ansible_psrp_message_encryption"] = "never"
        else:
            host_vars["ansible_psrp_message_encryption"] = config.message_encryption
        host_vars.update(config.inventory_vars)
        return host_vars

    @property
    def is_down(self) -> bool:
        return self._listener is None

    def go_down(self, timeout: float = 5.0) -> None:
        """Stop listening (connection refused), e.g. while the machine reboots.

        The port stays bound without listening, so connections are refused and nothing else on this
        machine (another fleet, another test run) can take the port and answer in the host's place."""
        self._begin_stop()
        self._join(timeout)
        if self._placeholder is None:
            placeholder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                placeholder.bind((self.address, self.port))
            except OSError:
                placeholder.close()
            else:
                self._placeholder = placeholder

    def come_up(self) -> None:
        """Listen again on the same address and port; earlier shells are gone, as after a reboot."""
        if self._listener is None:
            self._release_placeholder()
            self.service.restart()
            self._listen(self.port)

    def _release_placeholder(self) -> None:
        if self._placeholder is not None:
            self._placeholder.close()
            self._placeholder = None

    def _start(self) -> None:
        self.service.restart()
        if self.config.transport == "https":
            self.certificate = generate_self_signed(self.name, [self.address])
        if self.config.down:
            self.port = self.config.port or _reserve_unused_port(self.address)
        else:
            self._listen(self.config.port)

    def _listen(self, port: int) -> None:
        self._listener = _Listener(self.service, self.address, port, self.certificate)
        self.port = self._listener.port
        self._listener.start()

    def _begin_stop(self) -> None:
        self.service.stop()
        if self._listener is not None:
            self._listener.begin_stop()

    def _join(self, timeout: float) -> None:
        if self._listener is not None:
            self._listener.join(timeout)
            self._listener = None
        self.service.join(timeout)


class Fleet:
    """A set of emulated Windows hosts, each with its own WinRM listener thread.

    Use as a context manager (or ``start()`` / ``stop()``)::

        with Fleet([HostConfig("win01", backend)]) as fleet:
            inventory = fleet.inventory(tmp_path / "hosts.yml")
            ...  # run ansible-playbook -i inventory
            assert fleet.stats("win01").actions["Receive"] == 1

    ``fleet["win01"]`` is the :class:`EmulatedHost` (endpoint, stats, ``go_down()`` /
    ``come_up()`` for reboots); its ``config.faults`` can be switched between runs.
    """

    def __init__(self, hosts: Iterable[HostConfig], *, history: int = 50) -> None:
        self._hosts: dict[str, EmulatedHost] = {}
        for config in hosts:
            if config.name in self._hosts:
                raise ValueError(f"duplicate host name {config.name!r}")
            self._hosts[config.name] = EmulatedHost(config, history)
        self._ntlm_accounts: list[tuple[str, str, str]] = []
        self._running = False

    def __enter__(self) -> Fleet:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __getitem__(self, name: str) -> EmulatedHost:
        return self._hosts[name]

    def __iter__(self) -> Iterator[EmulatedHost]:
        return iter(self._hosts.values())

    def __len__(self) -> int:
        return len(self._hosts)

    @property
    def hosts(self) -> list[EmulatedHost]:
        return list(self._hosts.values())

    def start(self) -> Fleet:
        if self._running:
            return self
        self._running = True
        try:
            for host in self._hosts.values():
                if host.config.accepts_ntlm:
                    account = (*_split_account(host.config.username), host.config.password)
                    _NtlmUserFile.register(*account)
                    self._ntlm_accounts.append(account)
                host._start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop every listener, wake waiting requests, join all threads."""
        if not self._running:
            return
        for host in self._hosts.values():
            host._begin_stop()
        for host in self._hosts.values():
            host._join(timeout)
            host._release_placeholder()
        for account in self._ntlm_accounts:
            _NtlmUserFile.unregister(*account)
        self._ntlm_accounts.clear()
        self._running = False

    def stats(self, name: str) -> HostStats:
        return self._hosts[name].stats()

    def reset_stats(self) -> None:
        for host in self._hosts.values():
            host.reset_stats()

    def inventory(
        self,
        path: str | os.PathLike[str],
        *,
        extra_vars: dict[str, Any] | None = None,
        operation_timeout_sec: int | None = None,
        read_timeout_sec: int | None = None,
        group: str = "windows",
        plugin: str | None = None,
    ) -> Path:
        """Write an Ansible YAML inventory with every host of the fleet in ``group``.

        ``operation_timeout_sec`` / ``read_timeout_sec`` become ``ansible_winrm_*`` group vars
        (pywinrm requires read > operation); keep them short when a host hangs. ``extra_vars``
        are further group vars; ``HostConfig.inventory_vars`` override per host. ``plugin``
        ("winrm" or "psrp") addresses every host through that connection plugin; by default each
        host's ``HostConfig.plugin`` decides. The timeouts are written for both plugins.
        """
        if plugin is not None and plugin not in CONNECTION_PLUGINS:
            raise ValueError(f"plugin must be one of {CONNECTION_PLUGINS}, not {plugin!r}")
        return write_inventory(path, {host.name: host.inventory_vars(plugin) for host in self._hosts.values()},
                               extra_vars=extra_vars, operation_timeout_sec=operation_timeout_sec,
                               read_timeout_sec=read_timeout_sec, group=group)


def write_inventory(
    path: str | os.PathLike[str],
    host_vars: dict[str, dict[str, Any]],
    *,
    extra_vars: dict[str, Any] | None = None,
    operation_timeout_sec: int | None = None,
    read_timeout_sec: int | None = None,
    group: str = "windows",
) -> Path:
    """The YAML inventory of Fleet.inventory, from each host's connection variables."""
    group_vars: dict[str, Any] = {}
    if operation_timeout_sec is not None:
        group_vars["ansible_winrm_operation_timeout_sec"] = operation_timeout_sec
        group_vars["ansible_psrp_operation_timeout"] = operation_timeout_sec
        if read_timeout_sec is None:
            read_timeout_sec = operation_timeout_sec + 10
    if read_timeout_sec is not None:
        group_vars["ansible_winrm_read_timeout_sec"] = read_timeout_sec
        group_vars["ansible_psrp_read_timeout"] = read_timeout_sec
    group_vars.update(extra_vars or {})
    document = {
        "all": {
            "children": {
                group: {
                    "hosts": host_vars,
                    "vars": group_vars,
                }
            }
        }
    }
    target = Path(path)
    target.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return target
