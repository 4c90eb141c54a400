#!/usr/bin/python3
"""Replays the Dockerfile's recipe outside Docker and checks the image it makes.

No Docker engine runs on our machines, so this test builds what the Dockerfile
builds, with the same steps, on this Debian 12 machine standing in for
debian:bookworm, and checks what the image would hold and do. It reads the
real Dockerfile, so every edit to it is checked.

  build stages  COPY copies from the build context (the files git knows plus
                the untracked ones it does not ignore, as in CI's clean clone,
                less .dockerignore's patterns) into SCRATCH/stages/STAGE/,
                which stands for the stage's /. Every RUN then runs there, in
                order and verbatim, with the stage's SHELL, ARG and ENV; two
                exceptions are explained where they are made
                (APT_LISTS_CLEANUP, ccache_mount_command).
  final stage   the image. Its RUN commands would add users and folders to
                this machine, so they are not executed: each must have a shape
                the replay knows (IMAGE_COMMANDS), folders are made under
                SCRATCH/stages/STAGE/ and only `bash .../install_deps.sh
                --runtime` runs (a no-op when the runtime packages are
                installed). COPY stages files there like in a build stage.
  checks        USER is the non-root user the stage creates (uid/gid 10001, as
                deploy/k8s runs it) and owns every VOLUME; staged files are
                readable by it; every shared library of the staged ELF files
                comes from a package in the dependency closure of
                install_deps.sh's RUNTIME_PACKAGES or from debian:bookworm-slim
                itself; ENTRYPOINT + CMD start the server (on 127.0.0.1:0, not
                the fixed ports), the HEALTHCHECK command passes within its
                --timeout, /metrics answers with camserve_model_info, and
                SIGTERM ends the server with exit code 0.

An instruction, flag or command the replay does not know fails the test with
its line, so the Dockerfile cannot drift beyond what is checked.

Usage: dockerfile_recipe_test.py --source DIR --scratch DIR [--build-arg NAME=VALUE]...
SCRATCH is wiped when the test starts, not when it ends, so that a failure can
be inspected; logs of every command are in SCRATCH/logs/.
Exit status: 0 every check passed; 1 a check failed.
"""

import argparse
import dataclasses
import json
import os
import posixpath
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

# What Debian's official images set (`docker inspect debian:bookworm`).
DEBIAN_IMAGE_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
# The images this machine can stand for: build stages run here, and the final
# stage's system libraries are this machine's.
BUILD_BASE_IMAGE = "debian:bookworm"
FINAL_BASE_IMAGE = "debian:bookworm-slim"
# deploy/k8s/deployment-*.yaml run the image as runAsUser/runAsGroup 10001.
EXPECTED_UID = 10001
EXPECTED_GID = 10001
# The image deletes apt's package lists to stay small. On this machine they are
# the host's own, which later apt-cache queries (and other work) need.
APT_LISTS_CLEANUP = "rm -rf /var/lib/apt/lists/*"
DEFAULT_SHELL = ["/bin/sh", "-c"]
KNOWN_INSTRUCTIONS = ("FROM", "ARG", "ENV", "SHELL", "WORKDIR", "COPY", "RUN", "USER", "VOLUME",
                      "EXPOSE", "HEALTHCHECK", "ENTRYPOINT", "CMD")
# Commands that change this machine's users or ownership: never run here.
HOST_CHANGING_COMMAND = re.compile(r"\b(useradd|groupadd|adduser|addgroup|usermod|groupmod|chown)\b")
SCRATCH_MARKER = ".dockerfile-recipe-scratch"
# Loading LibTorch and warming the model up is slow on a busy 2-core machine.
SERVER_READY_TIMEOUT_S = 300
# The Dockerfile asks for `docker stop -t 30`.
STOP_TIMEOUT_S = 30
METRICS_TIMEOUT_S = 10
HEALTHCHECK_DEFAULT_TIMEOUT_S = 30
GRPC_LISTENING = re.compile(r"camserve listening on 127\.0\.0\.1:(\d+)")
METRICS_SERVING = re.compile(r"serving Prometheus metrics at http://127\.0\.0\.1:(\d+)/metrics")
HTTP_SERVING = re.compile(r"serving the HTTP/JSON API at http://127\.0\.0\.1:(\d+)/v1/")
# The container's addresses, replaced by 127.0.0.1:0: tests never bind fixed ports.
LISTEN_FLAGS = ("--listen", "--metrics-listen", "--http-listen")
LOOPBACK_ANY_PORT = "127.0.0.1:0"


class RecipeError(Exception):
    """A check failed, or the Dockerfile uses something the replay does not know."""


def say(message):
    print(message, flush=True)


# --- reading the Dockerfile -------------------------------------------------

@dataclasses.dataclass
class Instruction:
    line: int
    keyword: str
    text: str  # what follows the keyword, continuations joined

    def error(self, message):
        return RecipeError(f"Dockerfile line {self.line} ({self.keyword}): {message}")


PARSER_DIRECTIVE = re.compile(r"#\s*([A-Za-z]+)\s*=\s*(\S.*?)\s*$")


def read_instructions(text):
    """The instructions with the line each starts on. Comment and empty lines
    are dropped, also inside a continuation, as Docker does."""
    instructions, pending, start = [], None, 0
    directives_allowed = True
    for number, raw in enumerate(text.splitlines(), 1):
        directive = PARSER_DIRECTIVE.match(raw) if directives_allowed else None
        if directive:
            if directive.group(1).lower() != "syntax":
                raise RecipeError(f"Dockerfile line {number}: parser directive '{directive.group(1)}' is not replayed")
            continue
        directives_allowed = False
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if pending is None:
            pending, start = [], number
        body = raw.rstrip()
        if body.endswith("\\"):
            pending.append(body[:-1])
            continue
        pending.append(body)
        keyword, _, rest = "".join(pending).strip().partition(" ")
        instructions.append(Instruction(start, keyword.upper(), rest.strip()))
        pending = None
    if pending is not None:
        raise RecipeError(f"Dockerfile line {start}: its line continuation runs past the end of the file")
    return instructions


FLAG = re.compile(r"--([a-z-]+)=(\S+)\s+")


def take_flags(instr, text, allowed):
    """Splits leading --name=value flags off text; fails on any not in allowed."""
    flags = {}
    while True:
        match = FLAG.match(text)
        if not match:
            break
        if match.group(1) not in allowed:
            raise instr.error(f"flag --{match.group(1)} is not replayed")
        flags.setdefault(match.group(1), []).append(match.group(2))
        text = text[match.end():]
    if text.startswith("--"):
        raise instr.error(f"flag {text.split()[0]} is not replayed")
    return flags, text


def exec_form(instr, text):
    """A JSON array of strings (the exec form); the shell form is not replayed."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
    if not (isinstance(value, list) and value and all(isinstance(word, str) for word in value)):
        raise instr.error(f"only the exec form (a JSON array of strings) is replayed: {text}")
    return value


VARIABLE = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:[-+])(?P<word>[^}$]*))?\}"
                      r"|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")


def substitute(instr, text, variables):
    """Docker's $VAR, ${VAR}, ${VAR:-word} and ${VAR:+word}; other forms fail."""
    if "$" in VARIABLE.sub("", text):
        raise instr.error(f"a variable form the replay does not know: {text}")

    def value(match):
        current = variables.get(match["braced"] or match["plain"], "")
        if match["op"] == ":-":
            return current or match["word"]
        if match["op"] == ":+":
            return match["word"] if current else ""
        return current

    return VARIABLE.sub(value, text)


def parse_duration_s(instr, text):
    """A Go duration as Docker writes them: 15s, 1m30s, 500ms."""
    units = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)", text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise instr.error(f"not a duration: {text}")
    return sum(float(number) * units[unit] for number, unit in parts)


# --- the stages as the Dockerfile describes them ----------------------------

@dataclasses.dataclass
class Copy:
    instr: Instruction
    sources: List[str]  # context paths, or absolute paths in from_stage
    dest: str  # absolute image path
    dest_is_dir: bool
    from_stage: Optional[str]


@dataclasses.dataclass
class Run:
    instr: Instruction
    command: str
    shell: List[str]
    env: Dict[str, str]  # ENV and ARG values in effect
    workdir: str
    cache_mount_targets: List[str]
    image_commands: list = dataclasses.field(default_factory=list)  # ImageCommand, final stage only


@dataclasses.dataclass
class Workdir:
    instr: Instruction
    path: str


@dataclasses.dataclass
class Healthcheck:
    instr: Instruction
    argv: List[str]
    timeout_s: float
    start_period_s: float


@dataclasses.dataclass
class Stage:
    name: str
    base: str
    line: int
    shell: List[str] = dataclasses.field(default_factory=lambda: list(DEFAULT_SHELL))
    env: Dict[str, str] = dataclasses.field(default_factory=lambda: dict(DEBIAN_IMAGE_ENV))
    args: Dict[str, str] = dataclasses.field(default_factory=dict)
    workdir: str = "/"
    user: Optional[Instruction] = None
    volumes: List[str] = dataclasses.field(default_factory=list)
    exposed: Set[int] = dataclasses.field(default_factory=set)
    healthcheck: Optional[Healthcheck] = None
    entrypoint: Optional[Instruction] = None
    cmd: Optional[Instruction] = None
    steps: list = dataclasses.field(default_factory=list)

    def variables(self):
        return {**self.args, **self.env}


def image_path(workdir, path):
    return posixpath.normpath(posixpath.join(workdir, path)).replace("//", "/")


class DockerfileParser:
    """Turns the instructions into stages with every value resolved; knows
    exactly the instructions in KNOWN_INSTRUCTIONS, with the flags and forms
    the replay can emulate, and fails on anything else."""

    def __init__(self, build_args):
        self.build_args = build_args
        self.global_args = {}
        self.stages: List[Stage] = []

    def parse(self, instructions):
        for instr in instructions:
            if instr.keyword not in KNOWN_INSTRUCTIONS:
                raise instr.error(f"instruction {instr.keyword} is not replayed; teach {Path(__file__).name} "
                                  "what it means before using it")
            if instr.keyword not in ("FROM", "ARG") and not self.stages:
                raise instr.error("comes before the first FROM")
            getattr(self, "on_" + instr.keyword.lower())(instr)
        if not self.stages:
            raise RecipeError("the Dockerfile has no FROM")
        for stage in self.stages[:-1]:
            check_build_stage(stage)
        check_final_stage(self.stages[-1])
        return self.stages

    @property
    def stage(self):
        return self.stages[-1]

    def on_from(self, instr):
        words = substitute(instr, take_flags(instr, instr.text, ())[1], self.global_args).split()
        if len(words) == 3 and words[1].upper() == "AS":
            base, name = words[0], words[2]
        elif len(words) == 1:
            base, name = words[0], str(len(self.stages))
        else:
            raise instr.error(f"expected `FROM IMAGE [AS NAME]`: {instr.text}")
        if base not in (BUILD_BASE_IMAGE, FINAL_BASE_IMAGE):
            raise instr.error(f"base image {base}: this machine can stand only for "
                              f"{BUILD_BASE_IMAGE} and {FINAL_BASE_IMAGE}")
        self.stages.append(Stage(name=name, base=base, line=instr.line))

    def on_arg(self, instr):
        scope = self.stage.args if self.stages else self.global_args
        variables = self.stage.variables() if self.stages else self.global_args
        for word in shlex.split(instr.text):
            name, has_default, default = word.partition("=")
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise instr.error(f"not an argument name: {name}")
            if name in self.build_args:
                scope[name] = self.build_args[name]
            elif has_default:
                scope[name] = substitute(instr, default, variables)
            elif self.stages and name in self.global_args:
                scope[name] = self.global_args[name]

    def on_env(self, instr):
        words = shlex.split(instr.text)
        if words and "=" not in words[0]:
            words = [words[0] + "=" + instr.text[len(words[0]):].strip()]  # the legacy `ENV NAME VALUE`
        variables = self.stage.variables()
        for word in words:
            name, has_value, value = word.partition("=")
            if not has_value or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise instr.error(f"expected NAME=VALUE: {word}")
            self.stage.env[name] = substitute(instr, value, variables)

    def on_shell(self, instr):
        self.stage.shell = exec_form(instr, instr.text)

    def on_workdir(self, instr):
        self.stage.workdir = image_path(self.stage.workdir, substitute(instr, instr.text, self.stage.variables()))
        self.stage.steps.append(Workdir(instr, self.stage.workdir))

    def on_copy(self, instr):
        flags, text = take_flags(instr, instr.text, ("from",))
        if text.startswith("["):
            words = exec_form(instr, text)
        else:
            words = shlex.split(substitute(instr, text, self.stage.variables()))
        if len(words) < 2:
            raise instr.error("expected COPY SRC... DEST")
        *sources, dest = words
        for source in sources:
            if re.search(r"[*?\[]", source):
                raise instr.error(f"wildcards in COPY sources are not replayed: {source}")
        from_stage = flags.get("from", [None])[-1]
        if from_stage is not None and from_stage not in [stage.name for stage in self.stages[:-1]]:
            raise instr.error(f"--from={from_stage} names no earlier stage")
        if len(sources) > 1 and not dest.endswith("/"):
            raise instr.error("COPY with several sources needs a DEST ending in /")
        self.stage.steps.append(Copy(instr, sources, image_path(self.stage.workdir, dest),
                                     dest.endswith("/") or dest in (".", "./"), from_stage))

    def on_run(self, instr):
        flags, command = take_flags(instr, instr.text, ("mount",))
        if command.startswith("["):
            raise instr.error("the exec form of RUN is not replayed; use the shell form")
        targets = [cache_mount_target(instr, spec) for spec in flags.get("mount", [])]
        env = {**self.stage.env, **self.stage.args}
        self.stage.steps.append(Run(instr, command, list(self.stage.shell), env, self.stage.workdir, targets))

    def on_user(self, instr):
        self.stage.user = Instruction(instr.line, instr.keyword, substitute(instr, instr.text, self.stage.variables()))

    def on_volume(self, instr):
        text = substitute(instr, instr.text, self.stage.variables())
        paths = exec_form(instr, text) if text.startswith("[") else text.split()
        self.stage.volumes += [image_path(self.stage.workdir, path) for path in paths]

    def on_expose(self, instr):
        for word in substitute(instr, instr.text, self.stage.variables()).split():
            match = re.fullmatch(r"(\d+)(/tcp)?", word)
            if not match:
                raise instr.error(f"only TCP ports are replayed: {word}")
            self.stage.exposed.add(int(match.group(1)))

    def on_healthcheck(self, instr):
        flags, text = take_flags(instr, instr.text,
                                 ("interval", "timeout", "start-period", "start-interval", "retries"))
        keyword, _, command = text.partition(" ")
        if keyword.upper() != "CMD":
            raise instr.error("only `HEALTHCHECK [OPTIONS] CMD [...]` is replayed")
        for name, values in flags.items():
            if name == "retries" and not values[-1].isdigit():
                raise instr.error(f"--retries={values[-1]} is not a count")
            if name != "retries":
                parse_duration_s(instr, values[-1])
        timeout_s = parse_duration_s(instr, flags.get("timeout", [f"{HEALTHCHECK_DEFAULT_TIMEOUT_S}s"])[-1])
        start_period_s = parse_duration_s(instr, flags.get("start-period", ["0s"])[-1])
        self.stage.healthcheck = Healthcheck(instr, exec_form(instr, command.strip()), timeout_s, start_period_s)

    def on_entrypoint(self, instr):
        exec_form(instr, instr.text)
        self.stage.entrypoint = instr

    def on_cmd(self, instr):
        exec_form(instr, instr.text)
        self.stage.cmd = instr


def cache_mount_target(instr, spec):
    """The target of `--mount=type=cache,target=T`; other mounts are not replayed."""
    fields = dict(item.partition("=")[::2] for item in spec.split(","))
    target = fields.pop("target", None) or fields.pop("dst", None) or fields.pop("destination", None)
    if fields.pop("type", None) != "cache" or not target or set(fields) - {"id", "sharing"}:
        raise instr.error(f"--mount={spec}: only type=cache with a target (and id, sharing) is replayed")
    return target


def ccache_dir_assignment(target):
    return re.compile(r"(?<![\w])CCACHE_DIR=" + re.escape(target) + r"(?![\w./-])")


def check_build_stage(stage):
    for step in stage.steps:
        if not isinstance(step, Run):
            continue
        if stage.base != BUILD_BASE_IMAGE:
            raise step.instr.error(f"RUN in a stage from {stage.base} is not replayed; only {BUILD_BASE_IMAGE} "
                                   "stages run here")
        if HOST_CHANGING_COMMAND.search(step.command):
            raise step.instr.error("a build stage that changes users or ownership is not replayed: it would "
                                   "change this machine's")
        for target in step.cache_mount_targets:
            if not ccache_dir_assignment(target).search(step.command):
                raise step.instr.error(f"the cache mount at {target} is replayed only as ccache's folder "
                                       f"(CCACHE_DIR={target} in the command)")


def check_final_stage(stage):
    """The final stage is the image: its RUN lines are split into simple
    commands, each of a shape in IMAGE_COMMANDS, checked and emulated."""
    if stage.base != FINAL_BASE_IMAGE:
        raise RecipeError(f"Dockerfile line {stage.line}: the image's stage must be FROM {FINAL_BASE_IMAGE} "
                          f"(the closure of its shared libraries is checked against it); was {stage.base}")
    for what, instr in (("USER", stage.user), ("ENTRYPOINT", stage.entrypoint), ("CMD", stage.cmd)):
        if instr is None:
            raise RecipeError(f"the image's stage (line {stage.line}) has no {what}")
    if stage.healthcheck is None:
        raise RecipeError(f"the image's stage (line {stage.line}) has no HEALTHCHECK")
    for step in stage.steps:
        if isinstance(step, Run):
            if step.cache_mount_targets:
                raise step.instr.error("a cache mount in the image's stage is not replayed")
            step.image_commands = split_simple_commands(step.instr, step.command)


def split_simple_commands(instr, command):
    """`a && b && c` as argv lists; any other shell syntax is not replayed."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands, current = [], []
    for token in lexer:
        if token == "&&":
            commands.append(current)
            current = []
        elif token and set(token) <= set("();<>|&"):
            raise instr.error(f"`{token}` in the image's RUN is not replayed; join commands with &&")
        else:
            current.append(token)
    commands.append(current)
    return [parse_image_command(instr, argv) for argv in commands]


@dataclasses.dataclass(frozen=True)
class ImageCommandShape:
    usage: str
    switches: Dict[str, str]  # spelling -> key
    valued: Dict[str, str]  # spelling -> key; the value is the next word
    operands: Tuple[int, Optional[int]]  # at least, at most
    required: Tuple[str, ...] = ()
    numeric: Tuple[str, ...] = ()


# What a RUN of the final stage may hold: commands of these shapes, joined by &&.
IMAGE_COMMANDS = {
    "bash": ImageCommandShape("bash SCRIPT --runtime (the staged install_deps.sh)", {"--runtime": "runtime"}, {},
                              (1, 1), required=("runtime",)),
    "rm": ImageCommandShape("rm [-rf] PATH...", {"-r": "recursive", "-R": "recursive", "-f": "force",
                                                 "-rf": "recursive", "-fr": "recursive"}, {}, (1, None)),
    "groupadd": ImageCommandShape("groupadd [--system] --gid GID NAME", {"--system": "system", "-r": "system"},
                                  {"--gid": "gid", "-g": "gid"}, (1, 1), required=("gid",), numeric=("gid",)),
    "useradd": ImageCommandShape(
        "useradd [--system] --uid UID --gid GROUP [--home-dir DIR] [--no-create-home] [--shell SHELL] NAME",
        {"--system": "system", "-r": "system", "--no-create-home": "no_home", "-M": "no_home"},
        {"--uid": "uid", "-u": "uid", "--gid": "gid", "-g": "gid", "--home-dir": "home", "-d": "home",
         "--shell": "shell", "-s": "shell"},
        (1, 1), required=("uid", "gid"), numeric=("uid",)),
    "mkdir": ImageCommandShape("mkdir [-p] DIR...", {"-p": "parents"}, {}, (1, None)),
    "chown": ImageCommandShape("chown [-R] OWNER[:GROUP] PATH...", {"-R": "recursive", "--recursive": "recursive"},
                               {}, (2, None)),
}


@dataclasses.dataclass
class ImageCommand:
    argv: List[str]
    options: Dict[str, object]
    operands: List[str]


def parse_image_command(instr, argv):
    shape = IMAGE_COMMANDS.get(argv[0]) if argv else None
    if shape is None:
        raise instr.error(f"`{' '.join(argv)}` in the image's RUN is not replayed; it knows "
                          f"{', '.join(IMAGE_COMMANDS)}")
    options, operands = parse_options(instr, argv, shape.switches, shape.valued)
    least, most = shape.operands
    if (len(operands) < least or (most is not None and len(operands) > most)
            or any(key not in options for key in shape.required)
            or any(not str(options[key]).isdigit() for key in shape.numeric)):
        raise instr.error(f"`{' '.join(argv)}`: the replay knows only {shape.usage}")
    return ImageCommand(argv, options, operands)


def parse_options(instr, argv, switches, valued):
    """argv[1:] as ({key: value or True}, operands); an option in neither
    switches nor valued fails."""
    options, operands, index = {}, [], 1
    while index < len(argv):
        word = argv[index]
        if word in switches:
            options[switches[word]] = True
        elif word in valued and index + 1 < len(argv):
            options[valued[word]] = argv[index + 1]
            index += 1
        elif word.startswith("-"):
            raise instr.error(f"`{argv[0]} {word}` is not replayed")
        else:
            operands.append(word)
        index += 1
    return options, operands


# --- the build context ------------------------------------------------------

class DockerIgnore:
    """The subset of .dockerignore's patterns in use: names, paths, `*` within
    a name (`build-*`) and `**` as a whole segment (`**/x`). A pattern matches a
    path or one of its folders, so a matched folder leaves out what it holds."""

    UNSUPPORTED = re.compile(r"[?\[\]\\]|^!")

    def __init__(self, path):
        self.patterns = []
        if not path.exists():
            return
        for number, raw in enumerate(path.read_text().splitlines(), 1):
            text = raw.strip()
            if not text or text.startswith("#"):
                continue
            if self.UNSUPPORTED.search(text):
                raise RecipeError(f".dockerignore line {number}: pattern '{text}' uses syntax the replay does "
                                  "not know (!, ?, [...], \\)")
            self.patterns.append(self.compile(number, posixpath.normpath(text.lstrip("/"))))

    @staticmethod
    def compile(number, pattern):
        segments = pattern.split("/")
        regex = ""
        for index, segment in enumerate(segments):
            last = index == len(segments) - 1
            if segment == "**":
                regex += ".*" if last else "(?:[^/]+/)*"
                continue
            if "**" in segment:
                raise RecipeError(f".dockerignore line {number}: ** is replayed only as a whole path segment")
            regex += "".join("[^/]*" if char == "*" else re.escape(char) for char in segment)
            regex += "" if last else "/"
        return re.compile(regex)

    def excludes(self, relative_path):
        parts = relative_path.split("/")
        prefixes = ["/".join(parts[:count]) for count in range(1, len(parts) + 1)]
        return any(pattern.fullmatch(prefix) for pattern in self.patterns for prefix in prefixes)


class BuildContext:
    """What `docker build .` sends from a clean clone: the files git knows plus
    untracked ones it does not ignore, less .dockerignore's patterns (which
    also leave out Dockerfile and .dockerignore themselves here)."""

    def __init__(self, source):
        self.source = source
        listed = subprocess.run(["git", "-C", str(source), "ls-files", "-z", "--cached", "--others",
                                 "--exclude-standard"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if listed.returncode != 0:
            raise RecipeError(f"git ls-files in {source} failed: {listed.stderr.decode().strip()}")
        present = sorted({path for path in listed.stdout.decode().split("\0")
                          if path and os.path.lexists(source / path)})
        ignore = DockerIgnore(source / ".dockerignore")
        self.files = [path for path in present if not ignore.excludes(path)]
        self.left_out = len(present) - len(self.files)

    def select(self, source):
        """(path under SOURCE or None for SOURCE itself, context path) of every file COPY SOURCE copies."""
        source = posixpath.normpath(source.lstrip("/"))
        if source == ".":
            return [(path, path) for path in self.files]
        if source in self.files:
            return [(None, source)]
        return [(path[len(source) + 1:], path) for path in self.files if path.startswith(source + "/")]


# --- replaying the stages ---------------------------------------------------

@dataclasses.dataclass
class ImageUser:
    uid: int
    gid: int
    home: str


@dataclasses.dataclass
class StagedRoot:
    """A folder standing for a stage's /. Image paths under what the stage
    itself created (COPY, mkdir, WORKDIR) map into it; others stay the
    machine's own, which stands for the base image."""

    root: Path
    created: List[str] = dataclasses.field(default_factory=list)
    context_origin: Dict[str, str] = dataclasses.field(default_factory=dict)  # image path -> context path
    staged_files: List[str] = dataclasses.field(default_factory=list)
    owner_uid: Dict[str, int] = dataclasses.field(default_factory=dict)  # folders the stage made or chowned
    users: Dict[str, ImageUser] = dataclasses.field(default_factory=dict)
    groups: Dict[str, int] = dataclasses.field(default_factory=dict)
    runtime_packages: List[str] = dataclasses.field(default_factory=list)  # what install_deps.sh --runtime ran for

    def host(self, path):
        return self.root / path.lstrip("/")

    def maps(self, path):
        return any(path == made or path.startswith(made.rstrip("/") + "/") for made in self.created)

    def mapped(self, path):
        return str(self.host(path)) if path.startswith("/") and self.maps(path) else path

    def make_dirs(self, path):
        """mkdir -p in the stage; new folders belong to root, as in Docker."""
        parts = path.strip("/").split("/")
        for count in range(1, len(parts) + 1):
            folder = "/" + "/".join(parts[:count])
            if not self.host(folder).is_dir():
                self.host(folder).mkdir()
                self.owner_uid[folder] = 0
        self.created.append(path)


def copy_entry(source, target):
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or target.is_file():
        target.unlink()
    shutil.copy2(source, target, follow_symlinks=False)


def tail(path, lines=40):
    text = Path(path).read_text(errors="replace").splitlines()
    return "\n".join("    " + line for line in text[-lines:])


def run_logged(argv, cwd, env, log_path):
    """Runs argv with stdout and stderr into log_path; returns (exit code,
    seconds). Kills its whole process group if interrupted."""
    started = time.monotonic()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = process.wait()
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    return code, time.monotonic() - started


def ccache_mount_command(command, targets):
    """A `--mount=type=cache,target=T` is a folder kept across image builds;
    the replay knows it only as ccache's folder (CCACHE_DIR=T) and points it at
    this machine's own ccache folder, the one kept across CI's builds. Left
    verbatim, the command would write T under this machine's / and compile
    everything from a cold cache."""
    if not targets:
        return command
    try:
        cache_dir = subprocess.run(["ccache", "-k", "cache_dir"], stdout=subprocess.PIPE, text=True,
                                   check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as error:
        raise RecipeError(f"cannot ask ccache for its folder: {error}")
    for target in targets:
        command = ccache_dir_assignment(target).sub(lambda _: "CCACHE_DIR=" + shlex.quote(cache_dir), command)
    return command


def ccache_counters():
    """ccache's hit and miss counters (ccache >= 4.7), or None."""
    result = subprocess.run(["ccache", "--print-stats"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    if result.returncode != 0:
        return None
    counters = dict(line.split("\t", 1) for line in result.stdout.splitlines() if "\t" in line)
    return {name: int(counters.get(name, 0)) for name in
            ("direct_cache_hit", "preprocessed_cache_hit", "cache_miss", "could_not_use_precompiled_header")}


class Replay:
    """Replays the stages in order into SCRATCH/stages/, then checks the
    final stage's staged image and starts its command."""

    def __init__(self, source, scratch, stages):
        self.source = source
        self.scratch = scratch
        self.stages = stages
        self.final = stages[-1]
        self.roots: Dict[str, StagedRoot] = {}
        self.logs = scratch / "logs"
        self.logs.mkdir(parents=True)
        self.context = BuildContext(source)
        self.summary: List[str] = [f"build context: {len(self.context.files)} files "
                                   f"({self.context.left_out} left out by .dockerignore)"]
        self.build_seconds = 0.0

    def run(self):
        for stage in self.stages:
            root = StagedRoot(self.scratch / "stages" / stage.name)
            root.root.mkdir(parents=True)
            self.roots[stage.name] = root
            say(f"== stage {stage.name} (FROM {stage.base}, line {stage.line}) -> {root.root}")
            for step in stage.steps:
                if isinstance(step, Copy):
                    self.copy(root, step)
                elif isinstance(step, Workdir):
                    if not root.host(step.path).is_dir():
                        root.make_dirs(step.path)
                    root.created.append(step.path)
                elif stage is self.final:
                    self.emulate_image_run(root, step)
                else:
                    self.run_build_command(root, step)
        self.summary.append(f"replayed build RUN time: {self.build_seconds:.0f} s")
        image = self.roots[self.final.name]
        user = check_user(self.final, image)
        check_staged_permissions(image)
        self.summary.append(check_shared_libraries(image))
        ServerCheck(self.final, image, user, self.logs, self.summary).run()

    def copy(self, root, step):
        copied = 0
        for source in step.sources:
            entries = self.copy_entries(step, source)
            if not entries:
                where = f"stage {step.from_stage}" if step.from_stage else "the build context (or .dockerignore'd)"
                raise step.instr.error(f"COPY source {source} is missing in {where}")
            for under, host_source, context_path in entries:
                if under is None:
                    into_dir = step.dest_is_dir or root.host(step.dest).is_dir()
                    target = posixpath.join(step.dest, posixpath.basename(source)) if into_dir else step.dest
                else:
                    target = posixpath.join(step.dest, under)
                copy_entry(host_source, root.host(target))
                root.staged_files.append(target)
                if context_path is not None:
                    root.context_origin[target] = context_path
                copied += 1
        root.created.append(step.dest)
        say(f"  line {step.instr.line}: COPY {step.instr.text}  ({copied} files)")

    def copy_entries(self, step, source):
        """(path under source or None, host path, context path or None) for every file copied."""
        if step.from_stage is None:
            return [(under, self.source / path, path) for under, path in self.context.select(source)]
        origin = self.roots[step.from_stage].host(posixpath.normpath(source))
        if origin.is_file() or origin.is_symlink():
            return [(None, origin, None)]
        return [(str(Path(folder, name).relative_to(origin)), Path(folder, name), None)
                for folder, _, names in os.walk(origin) for name in names]

    def run_build_command(self, root, step):
        # Only the apt-lists part becomes a no-op (see APT_LISTS_CLEANUP); the
        # rest of the line runs verbatim.
        command = step.command.replace(APT_LISTS_CLEANUP, "true")
        command = ccache_mount_command(command, step.cache_mount_targets)
        env = {**DEBIAN_IMAGE_ENV, **step.env, "HOME": os.environ.get("HOME", "/root")}
        workdir = root.host(step.workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"line{step.instr.line}-run.log"
        say(f"  line {step.instr.line}: RUN {command}")
        counters_before = ccache_counters() if step.cache_mount_targets else None
        code, seconds = run_logged(step.shell + [command], workdir, env, log)
        if code != 0:
            raise step.instr.error(f"RUN exited with {code} after {seconds:.0f} s; the end of {log}:\n{tail(log)}")
        self.build_seconds += seconds
        line = f"line {step.instr.line}: RUN took {seconds:.1f} s"
        counters_after = ccache_counters() if counters_before else None
        if counters_after:
            delta = {name: counters_after[name] - counters_before[name] for name in counters_after}
            hits = delta["direct_cache_hit"] + delta["preprocessed_cache_hit"]
            line += (f" (ccache, counters shared with other builds: {hits} hits, {delta['cache_miss']} misses, "
                     f"{delta['could_not_use_precompiled_header']} uncacheable for a precompiled header)")
        say("    " + line)
        self.summary.append(line)

    def emulate_image_run(self, root, step):
        say(f"  line {step.instr.line}: RUN (checked, not executed: it would change this machine)")
        for command in step.image_commands:
            emulate = {"bash": self.image_install_deps, "rm": image_rm, "groupadd": image_groupadd,
                       "useradd": image_useradd, "mkdir": image_mkdir, "chown": image_chown}[command.argv[0]]
            emulate(root, step, command)

    def image_install_deps(self, root, step, command):
        """Runs the staged install_deps.sh --runtime: a no-op when the runtime
        packages are installed, which proves their names exist."""
        if root.context_origin.get(command.operands[0]) != "scripts/install_deps.sh":
            raise step.instr.error(f"`{' '.join(command.argv)}`: the only script the image's RUN may run is the "
                                   "staged scripts/install_deps.sh --runtime")
        script = root.host(command.operands[0])
        root.runtime_packages = runtime_packages(script)
        env = {**DEBIAN_IMAGE_ENV, **step.env, "HOME": os.environ.get("HOME", "/root")}
        log = self.logs / f"line{step.instr.line}-install-deps-runtime.log"
        code, seconds = run_logged(["bash", str(script), "--runtime"], root.root, env, log)
        if code != 0:
            raise step.instr.error(f"install_deps.sh --runtime exited with {code}:\n{tail(log)}")
        say(f"    install_deps.sh --runtime: {Path(log).read_text().strip()}")
        self.summary.append(f"runtime packages: {len(root.runtime_packages)} installed "
                            f"({' '.join(root.runtime_packages)})")


# --- the image's RUN commands, emulated inside the staged root --------------

def image_rm(root, step, command):
    for path in command.operands:
        if path == "/var/lib/apt/lists/*":
            continue  # see APT_LISTS_CLEANUP: the staged root has no apt lists of its own
        if not root.maps(path):
            raise step.instr.error(f"`rm {path}`: the replay removes only what the stage itself staged")
        target = root.host(path)
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        root.staged_files = [file for file in root.staged_files if not (file == path or file.startswith(path + "/"))]


def image_groupadd(root, step, command):
    root.groups[command.operands[0]] = int(command.options["gid"])


def image_useradd(root, step, command):
    options, name = command.options, command.operands[0]
    gid = resolve_id(step.instr, options["gid"], root.groups, "group")
    if gid not in root.groups.values():
        raise step.instr.error(f"useradd --gid {options['gid']}: no group with that id was added before")
    root.users[name] = ImageUser(int(options["uid"]), gid, options.get("home", "/home/" + name))


def image_mkdir(root, step, command):
    for path in command.operands:
        path = image_path("/", path)
        if not command.options.get("parents") and not root.host(posixpath.dirname(path)).is_dir():
            raise step.instr.error(f"mkdir {path}: its parent does not exist (no -p)")
        root.make_dirs(path)


def image_chown(root, step, command):
    owner = command.operands[0].split(":")[0]
    uid = resolve_id(step.instr, owner, {name: user.uid for name, user in root.users.items()}, "user")
    for path in command.operands[1:]:
        if not root.host(path).exists():
            raise step.instr.error(f"chown {path}: not a path the stage made (the replay cannot chown the base's)")
        covered = [known for known in root.owner_uid
                   if known == path or (command.options.get("recursive") and known.startswith(path + "/"))]
        for known in covered + [path]:
            root.owner_uid[known] = uid


def resolve_id(instr, spec, names, kind):
    if spec.isdigit():
        return int(spec)
    if spec == "root":
        return 0
    if spec not in names:
        raise instr.error(f"{kind} {spec} was not added before")
    return names[spec]


# --- checks of the staged image ---------------------------------------------

def check_user(stage, root):
    """USER must be the non-root user the stage created, with EXPECTED_UID:GID,
    and own every VOLUME (else the volume is root's and not writable)."""
    instr = stage.user
    name, _, group = instr.text.partition(":")
    uid = resolve_id(instr, name, {user_name: user.uid for user_name, user in root.users.items()}, "user")
    users = [user for user in root.users.values() if user.uid == uid]
    gid = resolve_id(instr, group, root.groups, "group") if group else (users[0].gid if users else 0)
    if uid == 0:
        raise instr.error("the image runs as root; USER must be the unprivileged user the stage creates")
    if not users:
        raise instr.error(f"USER {instr.text}: the stage creates no user with uid {uid} (useradd)")
    if (uid, gid) != (EXPECTED_UID, EXPECTED_GID):
        raise instr.error(f"USER {instr.text} is uid {uid} gid {gid}; deploy/k8s expects {EXPECTED_UID}:{EXPECTED_GID}")
    for volume in stage.volumes:
        if root.owner_uid.get(volume) != uid:
            raise RecipeError(f"VOLUME {volume} is not made and chowned to {uid} in the image (mkdir -p, chown -R "
                              "in a RUN before it): a fresh volume would be root's and not writable by USER")
    say(f"  USER {instr.text}: uid {uid} gid {gid}, not root; owns {', '.join(stage.volumes)}")
    return users[0]


def check_staged_permissions(root):
    """COPY keeps the context's modes and gives files to root: USER needs them
    readable, and the binaries executable, by others."""
    for path in root.staged_files:
        host = root.host(path)
        if host.is_symlink():
            continue
        mode = host.stat().st_mode
        if not mode & 0o004 or (is_elf(host) and not mode & 0o001):
            raise RecipeError(f"{path} in the image has mode {oct(mode & 0o777)}: USER (not its owner, root) "
                              "cannot read or run it")


def is_elf(path):
    with open(path, "rb") as file:
        return file.read(4) == b"\x7fELF"


def runtime_packages(script):
    match = re.search(r"^RUNTIME_PACKAGES=\((.*?)\)", script.read_text(), re.M | re.S)
    names = [word for line in (match.group(1).splitlines() if match else []) for word in line.split("#")[0].split()]
    if not names:
        raise RecipeError(f"{script}: no RUNTIME_PACKAGES=(...) list")
    return names


def dependency_closure(packages):
    """Every package apt could install for packages, alternatives included."""
    result = subprocess.run(
        ["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts", "--no-breaks",
         "--no-replaces", "--no-enhances"] + list(packages),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise RecipeError(f"apt-cache depends {' '.join(packages)} failed: {result.stderr.strip()}")
    return {line.strip() for line in result.stdout.splitlines()
            if line and not line[0].isspace() and not line.startswith("<")}


def slim_image_packages():
    """debian:bookworm-slim is a minbase debootstrap: the Essential and
    Priority: required packages, apt, and what they depend on."""
    result = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Essential} ${Priority}\\n"],
                            stdout=subprocess.PIPE, text=True, check=True)
    base = [fields[0] for fields in (line.split() for line in result.stdout.splitlines())
            if len(fields) == 3 and (fields[1] == "yes" or fields[2] == "required")]
    return dependency_closure(base + ["apt"])


def shared_libraries(binary):
    """Paths of the libraries ldd resolves for binary, and the names it cannot."""
    result = subprocess.run(["ldd", str(binary)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(DEBIAN_IMAGE_ENV))
    resolved, missing = [], []
    for line in result.stdout.splitlines():
        if "=> not found" in line:
            missing.append(line.split()[0])
        elif match := re.search(r"=>\s+(/\S+)", line) or re.match(r"\s*(/\S+)\s+\(", line):
            resolved.append(match.group(1))
    return resolved, missing


def path_variants(path):
    """The spellings dpkg may know a library by: as given, through symlinks
    (alternatives), and across the /usr merge."""
    variants = []
    for spelling in (path, os.path.realpath(path)):
        variants.append(spelling)
        if spelling.startswith("/usr/"):
            variants.append(spelling[len("/usr"):])
        else:
            variants.append("/usr" + spelling)
    return list(dict.fromkeys(variants))


def owning_packages(paths):
    """{path: package} for every path some installed package owns (dpkg -S)."""
    queried = sorted({variant for path in paths for variant in path_variants(path)})
    result = subprocess.run(["dpkg", "-S"] + queried, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    owners = {}
    for line in result.stdout.splitlines():
        if line.startswith("diversion "):
            continue
        packages, _, owned = line.rpartition(": ")
        owners[owned] = packages.split(", ")[0].split(":")[0]
    return {path: next((owners[variant] for variant in path_variants(path) if variant in owners), None)
            for path in paths}


def check_shared_libraries(root):
    """Every library of every staged ELF file must come from a package of the
    runtime closure or of the slim base image, or the image cannot start."""
    binaries = [path for path in root.staged_files if root.host(path).is_file() and is_elf(root.host(path))]
    if not binaries:
        raise RecipeError("the image stages no ELF binaries")
    libraries, problems = {}, []
    for path in binaries:
        resolved, missing = shared_libraries(root.host(path))
        problems += [f"{path}: {name} not found" for name in missing]
        for library in resolved:
            libraries.setdefault(library, path)
    if not root.runtime_packages:
        raise RecipeError("the image's stage never runs install_deps.sh --runtime: no runtime libraries")
    runtime = dependency_closure(root.runtime_packages)
    slim = slim_image_packages()
    from_slim_only = set()
    packages = owning_packages(list(libraries))
    for library, package in sorted(packages.items()):
        if package is None:
            problems.append(f"{library} (needed by {libraries[library]}) belongs to no Debian package, so no "
                            "runtime package brings it")
        elif package not in runtime and package not in slim:
            problems.append(f"{library} (needed by {libraries[library]}) is in package {package}, which neither "
                            "RUNTIME_PACKAGES (scripts/install_deps.sh) nor debian:bookworm-slim installs")
        elif package not in runtime:
            from_slim_only.add(package)
    if problems:
        raise RecipeError("libraries that would be missing in the image:\n  " + "\n  ".join(problems))
    line = (f"shared libraries: {len(libraries)} for {len(binaries)} ELF files, from {len(set(packages.values()))} "
            "packages, all in RUNTIME_PACKAGES' dependency closure"
            + (f" or debian:bookworm-slim ({', '.join(sorted(from_slim_only))})" if from_slim_only else ""))
    say("  " + line)
    return line


# --- starting the image's command -------------------------------------------

def flag_value(argv, flag):
    """(index, prefix) of FLAG's value: `FLAG VALUE` or `FLAG=VALUE`; None if absent."""
    for index, word in enumerate(argv):
        if word == flag and index + 1 < len(argv):
            return index + 1, ""
        if word.startswith(flag + "="):
            return index, flag + "="
    return None


def read_flag(argv, flag):
    found = flag_value(argv, flag)
    return None if found is None else argv[found[0]][len(found[1]):]


def set_flag(argv, flag, value):
    index, prefix = flag_value(argv, flag)
    argv[index] = prefix + value


class ServerCheck:
    """Starts ENTRYPOINT + CMD as the image would, with image paths mapped into
    the staged root and the addresses on 127.0.0.1:0, then runs the
    HEALTHCHECK command, scrapes /metrics and stops the server with SIGTERM."""

    def __init__(self, stage, root, user, logs, summary):
        self.stage, self.root, self.user, self.logs, self.summary = stage, root, user, logs, summary
        self.entrypoint = json.loads(stage.entrypoint.text)
        self.cmd = json.loads(stage.cmd.text)
        self.container_ports = {flag: self.container_port(flag) for flag in LISTEN_FLAGS}

    def container_port(self, flag):
        instr = self.stage.entrypoint
        value = read_flag(self.entrypoint, flag)
        match = re.fullmatch(r"0\.0\.0\.0:(\d+)", value or "")
        if not match:
            raise instr.error(f"ENTRYPOINT must fix {flag} 0.0.0.0:PORT (reachable from outside the container); "
                              f"has {value}")
        if int(match.group(1)) not in self.stage.exposed:
            raise instr.error(f"{flag} port {match.group(1)} is not EXPOSEd")
        return int(match.group(1))

    def argv(self):
        argv = self.entrypoint + self.cmd
        for flag in LISTEN_FLAGS:
            set_flag(argv, flag, LOOPBACK_ANY_PORT)
        cache_dir = read_flag(argv, "--cache-dir")
        if cache_dir is None or not any(cache_dir == volume or cache_dir.startswith(volume + "/")
                                        for volume in self.stage.volumes):
            raise self.stage.entrypoint.error(f"--cache-dir {cache_dir} is not on a VOLUME: the cache would be lost "
                                              "with the container")
        model = read_flag(self.cmd, "--model")
        if model is None or not self.root.host(model).is_file():
            raise self.stage.cmd.error(f"CMD's default model {model} is not in the image")
        return [self.map_word(word) for word in argv]

    def map_word(self, word):
        if word.startswith("--") and "=" in word:
            flag, _, value = word.partition("=")
            return flag + "=" + self.root.mapped(value)
        return self.root.mapped(word)

    def environment(self):
        """The image's ENV with its paths mapped, and HOME from USER's entry."""
        env = dict(self.stage.env)
        env["PATH"] = ":".join(self.root.mapped(part) for part in env["PATH"].split(":"))
        env["HOME"] = self.root.mapped(self.user.home)
        return env

    def run(self):
        argv, env, workdir = self.argv(), self.environment(), self.root.host(self.stage.workdir)
        if not os.path.isabs(argv[0]):
            argv[0] = shutil.which(argv[0], path=env["PATH"]) or argv[0]
        log_path = self.logs / "server.log"
        say(f"  starting: {' '.join(argv)}  (log {log_path})")
        started = time.monotonic()
        with open(log_path, "wb") as log:
            server = subprocess.Popen(argv, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                      stderr=subprocess.STDOUT)
        try:
            grpc_port, metrics_port, http_port = self.wait_until_listening(server, log_path)
            self.summary.append(f"server: listening after {time.monotonic() - started:.1f} s (HEALTHCHECK "
                                f"--start-period {self.stage.healthcheck.start_period_s:.0f} s), gRPC port "
                                f"{grpc_port}, metrics port {metrics_port}, HTTP port {http_port}")
            self.run_healthcheck(grpc_port, env, workdir)
            self.scrape_metrics(metrics_port)
            self.check_http_ready(http_port)
            self.stop(server, log_path)
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()

    def wait_until_listening(self, server, log_path):
        deadline = time.monotonic() + SERVER_READY_TIMEOUT_S
        while time.monotonic() < deadline:
            text = log_path.read_text(errors="replace")
            grpc, metrics, http = GRPC_LISTENING.search(text), METRICS_SERVING.search(text), HTTP_SERVING.search(text)
            if grpc and metrics and http:
                return int(grpc.group(1)), int(metrics.group(1)), int(http.group(1))
            if server.poll() is not None:
                raise RecipeError(f"the image's command exited with {server.returncode} before listening:\n"
                                  f"{tail(log_path)}")
            time.sleep(0.2)
        raise RecipeError(f"the server did not log its three listening lines within {SERVER_READY_TIMEOUT_S} s:\n"
                          f"{tail(log_path)}")

    def run_healthcheck(self, grpc_port, env, workdir):
        check = self.stage.healthcheck
        argv = [self.map_word(word) for word in check.argv]
        address = read_flag(argv, "--addr")
        match = re.fullmatch(r"(127\.0\.0\.1|localhost):(\d+)", address or "")
        if not match or int(match.group(2)) != self.container_ports["--listen"]:
            raise check.instr.error(f"HEALTHCHECK --addr {address} must be loopback with the --listen port "
                                    f"{self.container_ports['--listen']}")
        set_flag(argv, "--addr", f"127.0.0.1:{grpc_port}")
        started = time.monotonic()
        try:
            result = subprocess.run(argv, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True, timeout=check.timeout_s)
        except subprocess.TimeoutExpired:
            raise check.instr.error(f"the health check did not finish within its --timeout {check.timeout_s:.0f} s")
        seconds = time.monotonic() - started
        if result.returncode != 0:
            raise check.instr.error(f"the health check exited with {result.returncode}:\n{result.stdout}")
        line = f"HEALTHCHECK: exit 0 in {seconds:.1f} s (--timeout {check.timeout_s:.0f} s)"
        say("  " + line)
        self.summary.append(line)

    def scrape_metrics(self, metrics_port):
        url = f"http://127.0.0.1:{metrics_port}/metrics"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
        try:
            with opener.open(url, timeout=METRICS_TIMEOUT_S) as response:
                status, body = response.status, response.read().decode("utf-8", "replace")
        except (urllib.error.URLError, OSError) as error:
            raise RecipeError(f"GET {url}: {error}")
        if status != 200 or not any(line.startswith("camserve_model_info{") for line in body.splitlines()):
            raise RecipeError(f"GET {url}: HTTP {status}, no camserve_model_info{{...}} sample")
        line = f"GET /metrics: HTTP 200 with camserve_model_info ({len(body)} bytes)"
        say("  " + line)
        self.summary.append(line)

    def check_http_ready(self, http_port):
        url = f"http://127.0.0.1:{http_port}/v2/health/ready"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(url, timeout=METRICS_TIMEOUT_S) as response:
                status, body = response.status, json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError) as error:
            raise RecipeError(f"GET {url}: {error}")
        if status != 200 or body != {"ready": True}:
            raise RecipeError(f"GET {url}: HTTP {status}, {body} (want 200, ready)")
        line = "GET /v2/health/ready (HTTP API): HTTP 200, ready"
        say("  " + line)
        self.summary.append(line)

    def stop(self, server, log_path):
        started = time.monotonic()
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise RecipeError(f"the server did not exit within {STOP_TIMEOUT_S} s of SIGTERM:\n{tail(log_path)}")
        if code != 0:
            raise RecipeError(f"the server exited with {code} on SIGTERM (want 0):\n{tail(log_path)}")
        line = f"SIGTERM: exit 0 in {time.monotonic() - started:.1f} s"
        say("  " + line)
        self.summary.append(line)


# --- main -------------------------------------------------------------------

def prepare_scratch(scratch, source):
    """Wipes scratch, refusing folders it did not make (a wrong --scratch)."""
    if scratch == source or scratch in source.parents:
        raise RecipeError(f"--scratch {scratch} holds the source tree")
    if scratch.exists():
        if any(scratch.iterdir()) and not (scratch / SCRATCH_MARKER).exists():
            raise RecipeError(f"--scratch {scratch} is not empty and was not made by this test; not wiping it")
        shutil.rmtree(scratch)
    scratch.mkdir(parents=True)
    (scratch / SCRATCH_MARKER).write_text("made by tests/deploy/dockerfile_recipe_test.py; wiped on each run\n")


def check_machine():
    release = dict(line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line)
    if release.get("VERSION_CODENAME", "").strip('"') != "bookworm":
        raise RecipeError(f"this machine is {release.get('PRETTY_NAME')}; the replay stands it in for "
                          f"{BUILD_BASE_IMAGE}, so it must be Debian 12 (bookworm)")


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", type=Path, required=True, help="the checkout holding the Dockerfile")
    parser.add_argument("--scratch", type=Path, required=True, help="wiped at the start; holds the staged stages")
    parser.add_argument("--build-arg", action="append", default=[], metavar="NAME=VALUE",
                        help="as docker build --build-arg, e.g. CAMSERVE_BUILD_JOBS=1")
    args = parser.parse_args()
    build_args = {}
    for item in args.build_arg:
        name, has_value, value = item.partition("=")
        if not has_value:
            parser.error(f"--build-arg {item}: expected NAME=VALUE")
        build_args[name] = value
    return args.source.resolve(), args.scratch.resolve(), build_args


def raise_on_sigterm(signum, frame):
    raise RecipeError("terminated by SIGTERM (a ctest timeout?)")


def main():
    source, scratch, build_args = parse_arguments()
    signal.signal(signal.SIGTERM, raise_on_sigterm)
    # Docker builds with umask 022; the staged modes are checked.
    os.umask(0o022)
    started = time.monotonic()
    try:
        check_machine()
        dockerfile = source / "Dockerfile"
        stages = DockerfileParser(build_args).parse(read_instructions(dockerfile.read_text()))
        say(f"{dockerfile}: stages {', '.join(f'{stage.name} (FROM {stage.base})' for stage in stages)}")
        prepare_scratch(scratch, source)
        replay = Replay(source, scratch, stages)
        replay.run()
    except RecipeError as error:
        say(f"\nFAIL: {error}\n(scratch kept for inspection: {scratch})")
        return 1
    say(f"\nSummary ({time.monotonic() - started:.0f} s in all; scratch {scratch}):")
    for line in replay.summary:
        say(f"  {line}")
    say("PASS: the Dockerfile's recipe builds, stages and serves as checked above")
    return 0


if __name__ == "__main__":
    sys.exit(main())
