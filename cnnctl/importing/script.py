"""Read a Keras script's model, `compile` and `fit` into a config, from its syntax tree alone.

The script is parsed with Python's `ast` and never executed: nothing is imported from it and none
of its code runs, so a script from anywhere is safe to import. What a syntax tree holds is what is
written: literals, names bound to literals, calls. What it cannot know (a value computed at run time,
a custom layer, a Lambda) is listed with its line and left as a `# TODO` in the config.

It reads `Sequential([...])`, `model.add(...)` chains and functional graphs (`x = Conv2D(...)(x)`,
a layer object called twice, `Model(inputs, outputs)`), and the Keras 1 and 2 spellings of the
lecture: `Convolution2D(25, 3, 3)`, `output_dim`, `border_mode`, `subsample`, `nb_epoch`, `lr`, and
`input_shape=(1, 28, 28)` as channels first. Each translation is one line of `Imported.translations`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnctl import keras_catalog
from cnnctl.config.arguments import RENAMED, flow
from cnnctl.config.layers import INPUT, REUSE, default_layer_name
from cnnctl.errors import CnnctlError, Problem
from cnnctl.importing.imported import SIZES, Entry, Imported, Todo, compact_size
from cnnctl.importing.literals import UNKNOWN, Literals, callee, keyword, positional_names, source
from cnnctl.importing.script_training import read_compile, read_fit

# Keras' built-in datasets, as `keras.datasets.<name>.load_data()` calls them, by cnnctl's data.source.
DATASETS = {"mnist": "mnist", "fashion_mnist": "fashion_mnist", "cifar10": "cifar10", "cifar100": "cifar100"}
# Keras 1's convolutions took the kernel as separate positional sizes: Convolution2D(nb_filter, nb_row, nb_col).
KERAS1_KERNEL_AXES = {"Conv1D": 1, "Conv2D": 2, "Conv3D": 3, "SeparableConv2D": 2, "Conv2DTranspose": 2}
MAX_SCRIPT_BYTES = 10 * 2**20


def read_script(path: Path) -> Imported:
    """The config a Keras script describes, or `CnnctlError` (one line) when it cannot be parsed or holds
    no model."""
    try:
        if path.stat().st_size > MAX_SCRIPT_BYTES:
            raise CnnctlError(Problem(f"{path.stat().st_size:,} bytes: far beyond a Keras script", str(path)))
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CnnctlError(Problem("no such file", str(path))) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CnnctlError(Problem(f"cannot be read: {exc}", str(path))) from None
    try:
        tree = ast.parse(text, filename=str(path))
    except SyntaxError as exc:
        raise CnnctlError(Problem(f"not valid Python: {exc.msg}", str(path), exc.lineno,
                                  hint="the script is parsed, never run; fix the line, then import again")) from None
    reader = _Reader(path)
    reader.statements(tree.body)
    return reader.result()


@dataclass
class _Model:
    """A model the script builds: its entries and input, as far as read."""

    line: int
    entries: list[Entry] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # each entry's layer name
    input_shape: list[int] | None = None
    input_line: int = 0
    output: str | None = None  # functional: the entry name the outputs tensor comes from


@dataclass
class _LayerObject:
    """`conv = Conv2D(...)`: a layer bound to a name, applied by later calls."""

    call: ast.Call
    applied: str | None = None  # the entry name of its first application
    uses: int = 0


class _Reader:
    def __init__(self, path: Path):
        self.path = path
        self.imported = Imported(source=path.name, name=_run_name(path.stem))
        self.values = Literals()  # names bound by simple assignments, for resolving
        self.models: dict[str, _Model] = {}
        self.tensors: dict[str, tuple[_Model, str]] = {}  # functional: variable -> (model being built, entry)
        self.layer_objects: dict[str, _LayerObject] = {}
        self.graph = _Model(0)  # the functional graph, entries in the order the script makes them
        self.counters: dict[str, int] = {}
        self.compiled: tuple[str, ast.Call] | None = None
        self.fitted: tuple[str, ast.Call] | None = None
        self.loop_line: int | None = None
        self.keras1_era = False  # a Keras 1 spelling seen: an input_shape of (1, 28, 28) is then channels first
        self.channels_last_said = False  # dim_ordering='tf'
        self.graph_closed = False  # Model(inputs, outputs) seen: later assignments are no longer the graph's
        self.merges: dict[str, str] | None = None
        self.subclassed = False  # a class deriving from keras.Model: a model written as code

    # --- statements ---------------------------------------------------------------------------

    def statements(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            if isinstance(stmt, (ast.For, ast.While)):
                outer, self.loop_line = self.loop_line, self.loop_line or stmt.lineno
                self.statements(stmt.body)
                self.loop_line = outer
            elif isinstance(stmt, (ast.If, ast.With, ast.Try)):
                self.statements(stmt.body)
                self.statements(getattr(stmt, "orelse", []))
            elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.statements(stmt.body)
            elif isinstance(stmt, ast.ClassDef):
                self.subclassed |= any(source(base).split(".")[-1] == "Model" for base in stmt.bases)
            elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
                self.assign(stmt.targets[0], stmt.value)
            elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                self.assign(stmt.target, stmt.value)
            elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
                self.call(stmt.value)
            elif isinstance(stmt, ast.Return) and isinstance(stmt.value, ast.Call):
                self.expression(stmt.value)

    def assign(self, target: ast.expr, value: ast.expr) -> None:
        if isinstance(target, ast.Tuple):
            if isinstance(value, ast.Tuple) and len(value.elts) == len(target.elts):  # img_rows, img_cols = 28, 28
                for name, item in zip(target.elts, value.elts):
                    if isinstance(name, ast.Name):
                        self.values.bind(name.id, item)
            self.find_dataset(value)
            return
        if not isinstance(target, ast.Name):
            return
        name = target.id
        self.values.bind(name, value)
        if not isinstance(value, ast.Call):
            if isinstance(value, ast.Name) and value.id in self.tensors:
                self.tensors[name] = self.tensors[value.id]
            return
        called = callee(value)
        if called == "Sequential":
            model = self.models[name] = _Model(value.lineno)
            layers = value.args[0] if value.args else keyword(value, "layers")
            if isinstance(layers, (ast.List, ast.Tuple)):
                for element in layers.elts:
                    self.add(model, element)
            return
        if called in ("Model", "Functional"):
            self.functional_model(name, value)
            return
        if called == "Input":
            self.functional_input(name, value)
            return
        if self.is_layer_class(called) or _is_layer_call(value, self):
            if self.is_layer_class(called):  # `conv = Conv2D(...)`: a layer object, applied later
                self.layer_objects[name] = _LayerObject(value)
                return
            entry = self.apply(value)
            if entry is not None:
                self.tensors[name] = (self.graph, entry)
            return
        merge = self.merge_class(called)
        if merge is not None and value.args and not self.graph_closed:
            # `layers.add([x, y])`: Keras' function form of the Add layer, written as the layer
            layer = ast.copy_location(ast.Call(ast.Name(merge, ast.Load()), [], value.keywords), value)
            self.imported.note(f"line {value.lineno}: {source(value.func)}(...) -> {merge}")
            entry = self.apply(ast.copy_location(ast.Call(layer, [value.args[0]], []), value))
            if entry is not None:
                self.tensors[name] = (self.graph, entry)
            return
        fed = [n.id for n in ast.walk(value) if isinstance(n, ast.Name) and n.id in self.tensors]
        if fed and not self.graph_closed:
            # a call on a tensor that is no Keras layer (`tf.nn.relu(x)`): a TODO in its place, the tensor passed on
            bound = self.values.get(called) if isinstance(value.func, ast.Name) else None
            pretrained = isinstance(bound, ast.Call) and "applications" in source(bound.func)
            why = ("is a model from keras.applications: build it, save it with model.save('base.keras') and "
                   "import that, or write its layers here" if pretrained
                   else "is not a Keras layer: write what it does here")
            self.graph.entries.append(Entry(todos=[self.todo(value, f"{source(value)} {why}")]))
            self.tensors[name] = self.tensors[fed[0]]
            return
        self.expression(value)

    def merge_class(self, name: str | None) -> str | None:
        """The layer class a lowercase Keras function stands for (`add` -> `Add`, `concatenate` ->
        `Concatenate`): the class Keras would name so."""
        if not name or not name[0].islower():
            return None
        if self.merges is None:
            classes = keras_catalog.classes("layers")
            self.merges = {default_layer_name(cls, 0): cls.__name__ for cls in classes.values()
                           if cls.__module__.startswith("keras.src.layers.merging")}
        return self.merges.get(name)

    def call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            owner, method = func.value.id, func.attr
            if method == "add" and node.args:
                model = self.models.get(owner)
                if model is None:
                    model = self.models[owner] = _Model(node.lineno)
                self.add(model, node.args[0])
                return
            if method == "compile":
                self.compiled = (owner, node)
                return
            if method in ("fit", "fit_generator"):
                self.fitted = (owner, node)
                return
        self.expression(node)

    def expression(self, node: ast.expr) -> None:
        self.find_dataset(node)

    def find_dataset(self, node: ast.AST) -> None:
        """`mnist.load_data()` anywhere: the config's data.source."""
        for sub in ast.walk(node):
            if (isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) and sub.func.attr == "load_data"):
                owner = sub.func.value
                name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", None)
                if name in DATASETS and "source" not in self.imported.data:
                    self.imported.data["source"] = DATASETS[name]
                    self.imported.note(f"line {sub.lineno}: {name}.load_data() -> data.source: {DATASETS[name]}")

    # --- Sequential ---------------------------------------------------------------------------

    def add(self, model: _Model, node: ast.expr) -> None:
        """One layer of a Sequential model (`model.add(node)` or an element of `Sequential([...])`)."""
        if not isinstance(node, ast.Call):
            model.entries.append(Entry(todos=[self.todo(node, f"{source(node)} is not a layer call cnnctl can "
                                                              "read; write the layer here")]))
            return
        called = callee(node)
        if called in ("Input", "InputLayer"):
            shape = self.literal_keyword(node, "shape") if called == "Input" else None
            shape = shape if shape not in (None, UNKNOWN) else self.literal_keyword(node, "input_shape")
            if shape is None and node.args:
                shape = self.literal(node.args[0])
            if isinstance(shape, (list, tuple)):
                self.set_input_shape(model, list(shape), node.lineno)
            return
        entry, name = self.layer_entry(node, model)
        model.entries.append(entry)
        model.names.append(name)

    # --- functional ---------------------------------------------------------------------------

    def functional_input(self, name: str, node: ast.Call) -> None:
        shape = self.literal_keyword(node, "shape")
        if shape in (None, UNKNOWN) and node.args:
            shape = self.literal(node.args[0])
        if isinstance(shape, (list, tuple)):
            self.set_input_shape(self.graph, list(shape), node.lineno)
        else:
            self.imported.todos.append(self.todo(node, "the Input's shape is not a literal: set model.input_shape"))
        self.tensors[name] = (self.graph, INPUT)

    def apply(self, node: ast.Call) -> str | None:
        """`Layer(...)(x)` or `layer_object(x)`: one entry of the functional graph; its name."""
        sources = node.args[0] if node.args else keyword(node, "inputs")
        refs = self.tensor_refs(sources)
        call = {kw.arg: self.literal(kw.value) for kw in node.keywords if kw.arg not in (None, "inputs")}
        todos = []
        if any(value is UNKNOWN for value in call.values()):
            todos.append(self.todo(node, f"a call argument of {source(node.func)} is not a literal"))
            call = {k: v for k, v in call.items() if v is not UNKNOWN}
        if refs is None:
            self.graph.entries.append(Entry(todos=[self.todo(node, f"{source(node)}: its input is not a tensor "
                                                                   "this import follows; write the layer here")]))
            return None
        if isinstance(node.func, ast.Name) and node.func.id in self.layer_objects:
            obj = self.layer_objects[node.func.id]
            if obj.applied is None:
                entry, name = self.layer_entry(obj.call, self.graph, force_name=True)
                obj.applied = name
            else:
                obj.uses += 1
                name = f"{obj.applied}_use{obj.uses + 1}"
                entry = Entry({REUSE: {"layer": obj.applied, "name": name}})
                self.imported.note(f"line {node.lineno}: {node.func.id} applied again -> "
                                   f"Reuse: {{layer: {obj.applied}}} (shared weights)")
        else:
            entry, name = self.layer_entry(node.func, self.graph, force_name=True)
        entry.todos += todos
        if isinstance(entry.value, dict):
            args = next(iter(entry.value.values()))
            previous = self.graph.names[-1] if self.graph.names else INPUT
            if refs != [previous]:
                args["inputs"] = refs
            if call:
                args["call"] = call
        self.graph.entries.append(entry)
        self.graph.names.append(name)
        return name

    def tensor_refs(self, node: ast.expr | None) -> list[str] | None:
        items = node.elts if isinstance(node, (ast.List, ast.Tuple)) else [node]
        refs = []
        for item in items:
            if isinstance(item, ast.Name) and item.id in self.tensors:
                refs.append(self.tensors[item.id][1])
            elif isinstance(item, ast.Call) and _is_layer_call(item, self):  # Dense(10)(Flatten()(x))
                name = self.apply(item)
                if name is None:
                    return None
                refs.append(name)
            else:
                return None
        return refs

    def functional_model(self, name: str, node: ast.Call) -> None:
        inputs = node.args[0] if node.args else keyword(node, "inputs")
        outputs = node.args[1] if len(node.args) > 1 else keyword(node, "outputs")
        for what, value in (("inputs", inputs), ("outputs", outputs)):
            if isinstance(value, (ast.List, ast.Tuple)) and len(value.elts) > 1:
                raise CnnctlError(Problem(f"the model has {len(value.elts)} {what}; cnnctl trains image classifiers "
                                          "with one input and one output", str(self.path), node.lineno))
        if isinstance(outputs, (ast.List, ast.Tuple)) and outputs.elts:
            outputs = outputs.elts[0]
        refs = self.tensor_refs(outputs) if outputs is not None else None
        self.graph.line = node.lineno
        self.graph.output = refs[0] if refs else None
        self.graph_closed = True
        self.models[name] = self.graph

    # --- layers -------------------------------------------------------------------------------

    def is_layer_class(self, name: str | None) -> bool:
        return name is not None and name in keras_catalog.classes("layers")

    def layer_entry(self, node: ast.expr, model: _Model, force_name: bool = False) -> tuple[Entry, str]:
        """The entry for a layer call `Conv2D(...)` and the layer's name; a TODO entry for what is not one."""
        if not isinstance(node, ast.Call):
            return Entry(todos=[self.todo(node, f"{source(node)} is not a layer call cnnctl can read")]), ""
        called = callee(node)
        classes = keras_catalog.classes("layers")
        if called in keras_catalog.UNSAFE_LAYERS:
            return Entry(todos=[self.todo(node, f"{called} runs Python code, which a config cannot hold: write it "
                                                "as Keras layers, or as a --plugin layer")]), ""
        if called not in classes:
            return Entry(todos=[self.todo(node, f"{called or source(node.func)} is not a keras.layers class (a custom "
                                                "layer?): write it as Keras layers, or as a --plugin layer")]), ""
        cls = classes[called]
        type_name = cls.__name__
        line = node.lineno
        if called != type_name:
            self.imported.note(f"line {line}: {called} -> {type_name}")
        args, todos = self.arguments(node, cls, type_name, model)
        count = self.counters.get(type_name, 0)
        self.counters[type_name] = count + 1
        name = args.get("name") if isinstance(args.get("name"), str) else default_layer_name(cls, count)
        auto = "name" not in args
        if force_name and auto:
            args = {"name": name, **args}
        if self.loop_line is not None:
            todos.append(Todo(line, f"{type_name} is added in a loop (line {self.loop_line}): written once here; "
                                    "repeat it as often as the loop runs"))
        return Entry({type_name: args} if args else type_name, todos, auto_name=auto), name

    def arguments(self, node: ast.Call, cls: type, type_name: str, model: _Model) -> tuple[dict[str, Any], list[Todo]]:
        known = keras_catalog.arguments(cls)
        args: dict[str, Any] = {}
        todos: list[Todo] = []
        line = node.lineno
        positional = [self.literal(arg) for arg in node.args]
        axes = KERAS1_KERNEL_AXES.get(type_name)
        if axes and len(positional) == 1 + axes and all(isinstance(v, int) for v in positional):
            # Keras 1: Convolution2D(nb_filter, nb_row, nb_col)
            args["filters"], args["kernel_size"] = positional[0], compact_size(positional[1:])
            self.keras1_era = True
            self.imported.note(f"line {line}: {type_name}({', '.join(map(str, positional))}) -> filters: "
                               f"{positional[0]}, kernel_size: {flow(args['kernel_size'])} (Keras 1's nb_filter, "
                               f"{'nb_row, nb_col' if axes == 2 else 'sizes'})")
        else:
            order = [name for name in positional_names(cls) if name in known]
            for name, value, arg in zip(order, positional, node.args):
                if value is UNKNOWN:
                    todos.append(self.todo(arg, f"{type_name} {name}={source(arg)} is not a literal: write its value"))
                else:
                    args[name] = value
        for kw in node.keywords:
            if kw.arg is None:
                todos.append(self.todo(kw.value, f"{type_name}(**{source(kw.value)}): arguments not known"))
                continue
            value = self.literal(kw.value, activation=kw.arg.endswith("activation"))
            if value is UNKNOWN:
                todos.append(self.todo(kw.value, f"{type_name} {kw.arg}={source(kw.value)} is not a literal: write "
                                                 "its value"))
                continue
            key = kw.arg
            if key in ("input_shape", "batch_input_shape", "input_dim"):
                if not isinstance(value, int if key == "input_dim" else (list, tuple)):
                    todos.append(self.todo(kw.value, f"{key}={source(kw.value)} is not a shape: set "
                                                     "model.input_shape"))
                    continue
                shape = [value] if key == "input_dim" else list(value)[1 if key == "batch_input_shape" else 0:]
                self.set_input_shape(model, shape, kw.value.lineno)
                continue
            if key == "dim_ordering":
                if value == "tf":
                    self.channels_last_said = True
                self.imported.note(f"line {kw.value.lineno}: dim_ordering={value!r} -> model.data_format")
                continue
            key = self.renamed(key, value, known, type_name, kw.value.lineno)
            if key in ("nb_row", "nb_col"):
                continue
            if key == "data_format":
                if value != "channels_last":
                    todos.append(self.todo(kw.value, "data_format is set once, for the whole model: see "
                                                     "model.data_format"))
                continue
            if key not in known:
                todos.append(self.todo(kw.value, f"{type_name} has no argument '{kw.arg}' in Keras 3"))
                continue
            args[key] = compact_size(value) if key in SIZES else value
        rows = {kw.arg: self.literal(kw.value) for kw in node.keywords if kw.arg in ("nb_row", "nb_col")}
        if rows and "kernel_size" not in args:
            args["kernel_size"] = compact_size([rows.get("nb_row"), rows.get("nb_col")])
            self.imported.note(f"line {line}: nb_row, nb_col -> kernel_size: {flow(args['kernel_size'])}")
        for key in SIZES:
            if key in args:
                args[key] = compact_size(args[key])
        return args, todos

    def renamed(self, key: str, value: Any, known: dict, owner: str, line: int) -> str:
        new = RENAMED.get(key)
        if new is not None and new in known and key not in known:
            self.keras1_era = True
            self.imported.note(f"line {line}: {key}={flow(value)} -> {new}: {flow(value)}")
            return new
        if key in ("nb_row", "nb_col"):
            self.keras1_era = True
        return key

    def set_input_shape(self, model: _Model, shape: list[Any], line: int) -> None:
        model.input_shape = shape
        model.input_line = line

    # --- values -------------------------------------------------------------------------------

    def literal(self, node: ast.expr, activation: bool = False) -> Any:
        return self.values.literal(node, activation)

    def literal_keyword(self, node: ast.Call, name: str) -> Any:
        value = keyword(node, name)
        return None if value is None else self.literal(value)

    def todo(self, node: ast.AST, message: str) -> Todo:
        return Todo(getattr(node, "lineno", None), message)

    # --- result -------------------------------------------------------------------------------

    def result(self) -> Imported:
        model, which = self.choose_model()
        imported = self.imported
        if model.output is not None and model.names and model.names[-1] != model.output:
            imported.todos.append(Todo(model.line, f"the model's output is '{model.output}', not the last layer "
                                                   "made; move it last"))
        imported.layers = model.entries
        _drop_unused_names(model)
        if "source" not in imported.data:
            imported.comments.append("data: the script's data is not a Keras dataset cnnctl knows; set data.source "
                                     "(default: synthetic shapes)")
        if model.input_shape is None:
            imported.input_todo = Todo(model.line, "no input shape found: set model.input_shape, [height, width, "
                                                   "channels]")
        else:
            shape = model.input_shape
            if any(not isinstance(n, int) or n <= 0 for n in shape):
                imported.input_todo = Todo(model.input_line, f"input shape {shape} has sizes left open: give each")
                shape = [n if isinstance(n, int) and n > 0 else 28 for n in shape]
            if (len(shape) == 3 and self.keras1_era and not self.channels_last_said and shape[0] in (1, 3, 4)
                    and min(shape[1:]) >= 4 * shape[0]):
                imported.data_format = "channels_first"
                imported.note(f"line {model.input_line}: input_shape={tuple(shape)} -> model.input_shape: "
                              f"{flow(shape)} with data_format: channels_first (Keras 1 put channels first)")
            imported.input_shape = shape
        if self.compiled is not None:
            read_compile(self, self.compiled[1])
        if self.fitted is not None:
            read_fit(self, self.fitted[1])
        for owner, node in filter(None, (self.compiled, self.fitted)):
            if owner != which:
                imported.note(f"line {node.lineno}: {owner}.{callee(node)}(...) read as {which}'s: the script "
                              "builds no other model")
        imported.translations.sort(key=_line_of)
        imported.note(f"{self.path.name}: model '{which}' (line {model.line}), "
                      f"{len([e for e in model.entries if e.value is not None])} layers")
        return imported

    def choose_model(self) -> tuple[_Model, str]:
        """The model compiled (or fitted), else the last one built."""
        built = {name: model for name, model in self.models.items() if model.entries}
        if not built:
            hint = ("a subclassed model's call() is code, which cannot be read without running it: save the model "
                    "as .keras and import that" if self.subclassed
                    else "cnnctl import reads the script's code without running it")
            raise CnnctlError(Problem("no Keras model found: no Sequential(...), model.add(...) or "
                                      "Model(inputs, outputs) with layers", str(self.path), hint=hint))
        for found in (self.compiled, self.fitted):
            if found is not None and found[0] in built:
                return built[found[0]], found[0]
        name = list(built)[-1]
        return built[name], name


def _drop_unused_names(model: _Model) -> None:
    """Functional entries are named so `inputs:` can refer to them; a name nothing refers to, and which
    is the one cnnctl would give anyway, is left out."""
    used = set()
    for entry in model.entries:
        if isinstance(entry.value, dict):
            args = next(iter(entry.value.values()))
            used.update(args.get("inputs", []))
            used.add(args.get("layer"))
    for entry, name in zip([e for e in model.entries if e.value is not None], model.names):
        if isinstance(entry.value, dict):
            key, args = next(iter(entry.value.items()))
            if key != REUSE and args.get("name") == name and name not in used and entry.auto_name:
                del args["name"]
                if not args:
                    entry.value = key


def _line_of(note: str) -> int:
    """Translations are printed in the script's order: `line 15: ...` by its number."""
    head = note.split(":", 1)[0]
    return int(head[5:]) if head.startswith("line ") and head[5:].isdigit() else 0


def _is_layer_call(node: ast.Call, reader: _Reader) -> bool:
    """`Conv2D(...)(x)` or `layer_object(x)`: a layer applied to a tensor."""
    func = node.func
    if isinstance(func, ast.Call):
        return True
    return isinstance(func, ast.Name) and func.id in reader.layer_objects


def _run_name(stem: str) -> str:
    import re

    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", stem).lstrip("_.-")
    return cleaned or "imported"
