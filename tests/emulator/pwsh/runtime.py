"""Values, conversions and errors of the PowerShell subset the emulated hosts execute.

PowerShell values are kept as plain Python values where the two agree: ``$null`` is None, [bool] is
bool, [int]/[long] are int, [double] is float, [string] is str, an object[] array is a Python list.
Hashtables are case-insensitive (about_Hash_Tables), ArrayList and StringBuilder are small classes
with the .NET members the scripts use. Everything else from .NET is a NetObject subclass provided by
the host model: its members are looked up case-insensitively, as PowerShell does.

Where PowerShell versions differ, the rule is PowerShell 2.0's, and each rule names its source:
- about_Comparison_Operators (PowerShell 2.0 help): "When the input to an operator is a scalar value,
  comparison operators return a Boolean value. When the input is a collection of values, the
  comparison operators return any matching values." The right-hand operand is converted to the type
  of the left-hand one; string comparisons are case-insensitive unless the operator starts with c.
- about_Arrays / PowerShell 2.0: no member enumeration (added in 3.0, "What's New in Windows
  PowerShell 3.0"): ``$array.Name`` is $null unless the array itself has the member (Count, Length).
- about_Return: a function returns every value written to its output; one value comes back as
  itself, several as an object[] array, none as $null.
"""

from __future__ import annotations

import datetime
import fnmatch
import functools
import re
import typing as t


class AutomationNull:
    """What a pipeline that wrote nothing gives: $null, but it enumerates as nothing."""

    def __repr__(self) -> str:
        return "AutomationNull"


AUTOMATION_NULL = AutomationNull()


# --------------------------------------------------------------------------------------------- errors
class NetException(Exception):
    """A .NET exception: type_name is its full .NET type name, inner its InnerException."""

    type_name = "System.Exception"
    bases: tuple[str, ...] = ()

    def __init__(self, message: str = "", inner: "NetException | None" = None, hresult: int | None = None,
                 type_name: str | None = None):
        super().__init__(message)
        self.message = message
        self.inner = inner
        self.hresult = hresult
        if type_name:
            self.type_name = type_name

    def is_a(self, name: str) -> bool:
        name = name.lower()
        if name == "system.management.automation.icontainserrorrecord":
            # PowerShell's RuntimeException family carries an ErrorRecord.
            return self.is_a("system.management.automation.runtimeexception")
        return name in (self.type_name.lower(), *(base.lower() for base in self.bases), "system.exception")

    # .NET members the scripts read
    @property
    def Message(self) -> str:  # noqa: N802 - .NET member name
        return self.message

    @property
    def InnerException(self):  # noqa: N802
        return self.inner

    def GetType(self):  # noqa: N802
        return TypeInfo(self.type_name)

    @property
    def ErrorCode(self):  # noqa: N802 - ManagementException.ErrorCode
        return getattr(self, "error_code", None)


class RuntimeException(NetException):
    type_name = "System.Management.Automation.RuntimeException"


class MethodInvocationException(RuntimeException):
    """PowerShell wraps an exception thrown by a .NET method call in this (about_Try_Catch_Finally)."""

    type_name = "System.Management.Automation.MethodInvocationException"
    bases = ("System.Management.Automation.RuntimeException",)


class ActionPreferenceStopException(RuntimeException):
    """A cmdlet's non-terminating error turned terminating by -ErrorAction Stop / $ErrorActionPreference."""

    type_name = "System.Management.Automation.ActionPreferenceStopException"
    bases = ("System.Management.Automation.RuntimeException",)


class CommandNotFoundException(RuntimeException):
    type_name = "System.Management.Automation.CommandNotFoundException"
    bases = ("System.Management.Automation.RuntimeException",)


class UnsupportedConstruct(Exception):
    """The script uses something this interpreter does not model: fail loudly, never guess."""


class ErrorRecord:
    """$_ in a catch block."""

    def __init__(self, exception: NetException, category: str = "NotSpecified", target: t.Any = None):
        self.exception = exception
        self.category = category
        self.target = target

    @property
    def Exception(self):  # noqa: N802
        return self.exception

    @property
    def CategoryInfo(self):  # noqa: N802
        return NetObject.of(Category=self.category, Reason=self.exception.type_name.rsplit(".", 1)[-1])

    @property
    def TargetObject(self):  # noqa: N802
        return self.target

    def __str__(self) -> str:
        return self.exception.message

    def console_text(self) -> str:
        """How powershell.exe writes an error that ended the script to stderr (the console host's error view
        of Windows PowerShell 2.0 to 5.1): the message, then the category and the error id."""
        reason = self.exception.type_name.rsplit(".", 1)[-1]
        error_id = getattr(self.exception, "error_id", None) or reason
        return (f"{self.exception.message}\r\n"
                f"    + CategoryInfo          : {self.category}: (:) [], {reason}\r\n"
                f"    + FullyQualifiedErrorId : {error_id}\r\n")


class ScriptError(Exception):
    """Control flow that unwinds the interpreter: carries a PowerShell terminating error."""

    def __init__(self, record: ErrorRecord):
        super().__init__(record.exception.message)
        self.record = record


# --------------------------------------------------------------------------------------------- objects
class NetObject:
    """A .NET object of the host model. Subclasses define members as Python attributes or methods,
    spelled as in .NET; PowerShell finds them case-insensitively."""

    ps_type_name = "System.Object"

    @classmethod
    def of(cls, **members: t.Any) -> "NetObject":
        obj = cls()
        for name, value in members.items():
            setattr(obj, name, value)
        return obj

    def __str__(self) -> str:
        return self.ps_type_name


class TypeInfo(NetObject):
    ps_type_name = "System.RuntimeType"

    def __init__(self, full_name: str = "System.Object"):
        self.FullName = full_name
        self.Name = full_name.rsplit(".", 1)[-1]

    def __str__(self) -> str:
        return self.FullName


class Hashtable(dict):
    """@{} : keys compare case-insensitively when they are strings (about_Hash_Tables)."""

    ps_type_name = "System.Collections.Hashtable"

    def __init__(self, *args, **kwargs):
        super().__init__()
        self._names: dict[t.Any, t.Any] = {}
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    @staticmethod
    def _fold(key):
        return key.lower() if isinstance(key, str) else key

    def __setitem__(self, key, value):
        folded = self._fold(key)
        if folded in self._names:
            super().__setitem__(self._names[folded], value)
        else:
            self._names[folded] = key
            super().__setitem__(key, value)

    def __getitem__(self, key):
        folded = self._fold(key)
        if folded not in self._names:
            return None
        return super().__getitem__(self._names[folded])

    def __contains__(self, key):
        return self._fold(key) in self._names

    def __delitem__(self, key):
        original = self._names.pop(self._fold(key))
        super().__delitem__(original)

    # .NET members
    @property
    def Keys(self):  # noqa: N802
        return list(super().keys())

    @property
    def Values(self):  # noqa: N802
        return list(super().values())

    @property
    def Count(self):  # noqa: N802
        return len(self)

    def ContainsKey(self, key):  # noqa: N802
        return key in self

    def Add(self, key, value):  # noqa: N802
        if key in self:
            raise MethodInvocationException(f'Exception calling "Add" with "2" argument(s): "Item has already been '
                                            f"added. Key in dictionary: '{key}'  Key being added: '{key}'\"")
        self[key] = value

    def Remove(self, key):  # noqa: N802
        if key in self:
            del self[key]


class ArrayList(list):
    ps_type_name = "System.Collections.ArrayList"

    def Add(self, value):  # noqa: N802
        self.append(value)
        return len(self) - 1

    @property
    def Count(self):  # noqa: N802
        return len(self)

    def ToArray(self):  # noqa: N802
        return list(self)


class StringBuilder(NetObject):
    ps_type_name = "System.Text.StringBuilder"

    def __init__(self, text: str = ""):
        self.parts = [str(text)]

    def Append(self, value):  # noqa: N802
        self.parts.append(to_string(value))
        return self

    def ToString(self):  # noqa: N802
        return "".join(self.parts)

    @property
    def Length(self):  # noqa: N802
        return len(self.ToString())


class ScriptBlock(NetObject):
    ps_type_name = "System.Management.Automation.ScriptBlock"

    def __init__(self, node, source: bytes, text: str):
        self.node = node
        self.source = source
        self.text = text

    def ToString(self):  # noqa: N802
        return self.text

    def __str__(self) -> str:
        return self.text


# --------------------------------------------------------------------------------------------- types
def _is_enumerable(value: t.Any) -> bool:
    return isinstance(value, (list, tuple, dict)) or (isinstance(value, NetObject) and hasattr(value, "__iter__"))


def _is_int32(value: t.Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and -2**31 <= value < 2**31


def _is_int64(value: t.Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


TYPES: dict[str, t.Callable[[t.Any], bool]] = {
    "int": _is_int32,
    "int32": _is_int32,
    "system.int32": _is_int32,
    "long": _is_int64,
    "int64": _is_int64,
    "system.int64": _is_int64,
    "uint32": lambda v: False, "uint64": lambda v: False, "int16": lambda v: False, "uint16": lambda v: False,
    "byte": lambda v: False, "sbyte": lambda v: False, "single": lambda v: False, "decimal": lambda v: False,
    "double": lambda v: isinstance(v, float),
    "bool": lambda v: isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "system.string": lambda v: isinstance(v, str),
    "char": lambda v: False,
    "datetime": lambda v: isinstance(v, datetime.datetime),
    "enum": lambda v: False,
    "version": lambda v: False,
    "byte[]": lambda v: isinstance(v, (bytes, bytearray)),
    "array": lambda v: isinstance(v, list),
    "object[]": lambda v: isinstance(v, list) and not isinstance(v, ArrayList),
    "hashtable": lambda v: isinstance(v, Hashtable),
    "system.collections.idictionary": lambda v: isinstance(v, dict),
    "system.collections.ienumerable": lambda v: isinstance(v, (list, dict, str)) or _is_enumerable(v),
    "scriptblock": lambda v: isinstance(v, ScriptBlock),
    "object": lambda v: v is not None,
    "psobject": lambda v: v is not None,
}


def is_type(value: t.Any, name: str) -> bool:
    name = name.lower()
    if name.startswith("system.") and name not in TYPES and name[7:] in TYPES:
        name = name[7:]
    check = TYPES.get(name)
    if check is not None:
        return check(value)
    if isinstance(value, NetException):
        return value.is_a(name) or value.is_a("system." + name)
    if isinstance(value, NetObject):
        return value.ps_type_name.lower() in (name, "system." + name)
    raise UnsupportedConstruct(f"type [{name}] is not modelled")


# --------------------------------------------------------------------------------------------- conversion
def enumerate_value(value: t.Any) -> list[t.Any]:
    """What the pipeline unrolls: arrays and lists item by item; a hashtable, a string, anything else whole."""
    if value is AUTOMATION_NULL:
        return []
    if isinstance(value, list):
        return list(value)
    if isinstance(value, tuple):
        return list(value)
    return [value]


def to_bool(value: t.Any) -> bool:
    """about_Booleans: $null, 0, '' and an empty array are false; an array of one item is that item's
    truth; any other array, hashtable and object are true."""
    if value is None or value is AUTOMATION_NULL:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, str):
        return value != ""
    if isinstance(value, list):
        if not value:
            return False
        if len(value) == 1:
            return to_bool(value[0])
        return True
    return True


def to_string(value: t.Any) -> str:
    """[string] conversion, culture-invariant as PowerShell's own conversions are (about_Type_Conversion)."""
    if value is None or value is AUTOMATION_NULL:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        if value == int(value) and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, list):
        return " ".join(to_string(item) for item in value)   # $OFS, a single space by default
    if isinstance(value, datetime.datetime):
        return value.strftime("%m/%d/%Y %H:%M:%S")
    if isinstance(value, Hashtable):
        return "System.Collections.Hashtable"
    return str(value)


_INT = re.compile(r"^\s*[+-]?(0x[0-9a-f]+|\d+)\s*$", re.I)
_FLOAT = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$", re.I)


def to_number(value: t.Any) -> int | float:
    if value is None or value is AUTOMATION_NULL:
        return 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        # PowerShell parses numbers from strings with the invariant culture and ASCII digits only.
        if _INT.match(value):
            text = value.strip().lower()
            return int(text, 16) if "0x" in text else int(text)
        if _FLOAT.match(value):
            return float(value)
        raise RuntimeException(f'Cannot convert value "{value}" to type "System.Int32". Error: "Input string was '
                               f'not in a correct format."')
    if isinstance(value, list) and len(value) == 1:
        return to_number(value[0])
    raise RuntimeException(f'Cannot convert the "{to_string(value)}" value of type "{type_name(value)}" to type '
                           f'"System.Int32".')


def to_int(value: t.Any) -> int:  # noqa: F811 - used by arithmetic above
    number = to_number(value)
    if isinstance(number, float):
        # [int] rounds half to even (banker's rounding), as .NET's Convert.ToInt32 does.
        return int(round(number))
    return number


def type_name(value: t.Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "System.Boolean"
    if isinstance(value, int):
        return "System.Int32" if -2**31 <= value < 2**31 else "System.Int64"
    if isinstance(value, float):
        return "System.Double"
    if isinstance(value, str):
        return "System.String"
    if isinstance(value, ArrayList):
        return "System.Collections.ArrayList"
    if isinstance(value, list):
        return "System.Object[]"
    if isinstance(value, Hashtable):
        return "System.Collections.Hashtable"
    if isinstance(value, NetException):
        return value.type_name
    if isinstance(value, NetObject):
        return value.ps_type_name
    return type(value).__name__


def convert_like(value: t.Any, like: t.Any) -> t.Any:
    """Convert the right operand of a comparison to the left operand's type."""
    if isinstance(like, bool):
        return to_bool(value)
    if isinstance(like, (int, float)) and not isinstance(like, bool):
        if value is None:
            return None
        return to_number(value)
    if isinstance(like, str):
        return None if value is None else to_string(value)
    return value


# --------------------------------------------------------------------------------------------- operators
@functools.lru_cache(maxsize=1024)
def _wildcard(pattern: str, case_sensitive: bool) -> "re.Pattern[str]":
    """-like's wildcards (about_Wildcards: * ? [a-z]) as a regular expression, compiled once per pattern."""
    return re.compile(fnmatch.translate(pattern.replace("[!", "[\\!")), 0 if case_sensitive else re.I)


def _scalar_compare(op: str, left: t.Any, right: t.Any, case_sensitive: bool) -> bool:
    if op in ("like", "notlike"):
        pattern = to_string(right)
        text = to_string(left)
        matched = _wildcard(pattern, case_sensitive).match(text) is not None
        return matched if op == "like" else not matched
    if left is None:
        if op == "eq":
            return right is None
        if op == "ne":
            return right is not None
    try:
        right = convert_like(right, left)
    except RuntimeException:
        if op in ("eq", "ne"):
            return op == "ne"
        raise
    if isinstance(left, str) and isinstance(right, str) and not case_sensitive:
        left, right = left.lower(), right.lower()
    if op == "eq":
        return left == right
    if op == "ne":
        return left != right
    if right is None:
        right = "" if isinstance(left, str) else 0
    if left is None:
        left = "" if isinstance(right, str) else 0
    if op == "gt":
        return left > right
    if op == "ge":
        return left >= right
    if op == "lt":
        return left < right
    if op == "le":
        return left <= right
    raise UnsupportedConstruct(f"-{op}")


def compare(op: str, left: t.Any, right: t.Any) -> t.Any:
    """-eq, -ne, -gt, -ge, -lt, -le, -like, -notlike with their c/i forms; a collection on the left filters."""
    case_sensitive = op.startswith("c")
    base = op[1:] if op[:1] in ("c", "i") and op[1:] in ("eq", "ne", "gt", "ge", "lt", "le", "like", "notlike") else op
    if isinstance(left, list):
        return [item for item in left if _scalar_compare(base, item, right, case_sensitive)]
    return _scalar_compare(base, left, right, case_sensitive)


def contains(op: str, left: t.Any, right: t.Any) -> bool:
    case_sensitive = op.startswith("c")
    found = any(_scalar_compare("eq", item, right, case_sensitive) for item in enumerate_value(left))
    return found if op.endswith("contains") and "not" not in op else not found


def match(op: str, left: t.Any, right: t.Any, variables: dict) -> t.Any:
    flags = 0 if op.startswith("c") else re.I
    negate = "not" in op
    pattern = to_string(right)
    if isinstance(left, list):
        return [item for item in left if (re.search(pattern, to_string(item), flags) is None) == negate]
    found = re.search(pattern, to_string(left), flags)
    if found and not negate:
        groups = Hashtable()
        groups[0] = found.group(0)
        for index, value in enumerate(found.groups(), start=1):
            if value is not None:
                groups[index] = value
        for name, value in found.groupdict().items():
            if value is not None:
                groups[name] = value
        variables["matches"] = groups
    return (found is None) == negate


def replace(op: str, left: t.Any, right: t.Any) -> t.Any:
    flags = 0 if op.startswith("c") else re.I
    items = enumerate_value(right) if isinstance(right, list) else [right]
    pattern = to_string(items[0]) if items else ""
    replacement = to_string(items[1]) if len(items) > 1 else ""
    python_replacement = re.sub(r"\$(\d+|\{\w+\})", lambda m: "\\g<" + m.group(1).strip("{}") + ">",
                                replacement.replace("\\", "\\\\"))

    def one(value):
        return re.sub(pattern, python_replacement, to_string(value), flags=flags)

    if isinstance(left, list):
        return [one(item) for item in left]
    return one(left)


_FORMAT_ITEM = re.compile(r"\{\{|\}\}|\{(\d+)(?:,(-?\d+))?(?::([^}]*))?\}")


def format_value(value: t.Any, spec: str | None) -> str:
    if not spec:
        return to_string(value)
    if isinstance(value, int) and not isinstance(value, bool):
        kind, digits = spec[0].lower(), spec[1:]
        if kind == "x":
            # .NET formats a negative Int32 in hex as its two's complement (an HRESULT such as 0x80072EE7).
            if value < 0:
                value += 2**32 if value >= -2**31 else 2**64
            text = format(value, "x" if spec[0] == "x" else "X")
            return text.zfill(int(digits)) if digits else text
        if kind == "d":
            return str(value).zfill(int(digits)) if digits else str(value)
        if kind == "n":
            return f"{value:,.{int(digits) if digits else 2}f}"
    if isinstance(value, datetime.datetime):
        return dotnet_datetime_format(value, spec)
    raise UnsupportedConstruct(f"format specifier {spec!r} for {type_name(value)}")


def format_operator(template: t.Any, arguments: t.Any) -> str:
    """-f : .NET composite formatting (String.Format), invariant culture."""
    values = enumerate_value(arguments) if isinstance(arguments, list) else [arguments]
    text = to_string(template)

    def item(found):
        if found.group(0) == "{{":
            return "{"
        if found.group(0) == "}}":
            return "}"
        index = int(found.group(1))
        if index >= len(values):
            raise RuntimeException("Error formatting a string: Index (zero based) must be greater than or equal to "
                                   "zero and less than the size of the argument list..")
        rendered = format_value(values[index], found.group(3))
        width = int(found.group(2)) if found.group(2) else 0
        return rendered.rjust(width) if width > 0 else rendered.ljust(-width)

    return _FORMAT_ITEM.sub(item, text)


_DOTNET_DATE = [("yyyy", "%Y"), ("MM", "%m"), ("dd", "%d"), ("HH", "%H"), ("mm", "%M"), ("ss", "%S")]


def dotnet_datetime_format(value: datetime.datetime, spec: str) -> str:
    out = []
    index = 0
    while index < len(spec):
        for token, python in _DOTNET_DATE:
            if spec.startswith(token, index):
                out.append(value.strftime(python))
                index += len(token)
                break
        else:
            out.append(spec[index])
            index += 1
    return "".join(out)


def add(left: t.Any, right: t.Any) -> t.Any:
    """about_Arithmetic_Operators: the left operand's type decides: string concatenation, array
    concatenation, hashtable union, or numeric addition."""
    if isinstance(left, str):
        return left + to_string(right)
    if isinstance(left, list):
        return list(left) + (list(right) if isinstance(right, list) else [right])
    if isinstance(left, Hashtable):
        merged = Hashtable(left)
        for key, value in right.items():
            merged.Add(key, value)
        return merged
    if isinstance(left, datetime.datetime):
        raise UnsupportedConstruct("datetime addition")
    if left is None:
        return right if not isinstance(right, str) else right
    return to_number(left) + to_number(right)


def arithmetic(op: str, left: t.Any, right: t.Any) -> t.Any:
    if op == "+":
        return add(left, right)
    if isinstance(left, datetime.datetime) and isinstance(right, datetime.datetime) and op == "-":
        return TimeSpan(left - right)
    if op == "*" and isinstance(left, str):
        return left * to_int(right)
    if op == "*" and isinstance(left, list):
        return list(left) * to_int(right)
    a, b = to_number(left), to_number(right)
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        if b == 0:
            raise RuntimeException("Attempted to divide by zero.")
        result = a / b
        return int(result) if isinstance(a, int) and isinstance(b, int) and result == int(result) else result
    if op == "%":
        return a % b
    raise UnsupportedConstruct(op)


class TimeSpan(NetObject):
    ps_type_name = "System.TimeSpan"

    def __init__(self, delta: datetime.timedelta):
        self.delta = delta

    @property
    def TotalMilliseconds(self):  # noqa: N802
        return self.delta.total_seconds() * 1000.0

    @property
    def TotalSeconds(self):  # noqa: N802
        return self.delta.total_seconds()
