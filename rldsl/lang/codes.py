"""The one table of diagnostic codes: every code rldsl reports, with its title and explanation.

Each code is registered once, in :data:`CODE_TABLE`, as a :class:`CodeInfo`; :data:`CODES` indexes
it by code. Codes are grouped by concern (:data:`GROUPS`): adding a check means adding one entry
here. ``docs/diagnostics.md`` is generated from the table (:func:`codes_markdown`) and ``rldsl
explain CODE`` prints one entry (:func:`explain`). The table is data, kept apart from the
:class:`~rldsl.lang.diagnostics.Diagnostic` machinery so that it can grow without crowding it;
:mod:`rldsl.lang.diagnostics` re-exports every name defined here.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping

import attrs

__all__ = ["CODE_TABLE", "CODES", "GROUPS", "CodeInfo", "Severity", "codes_markdown", "explain"]


class Severity(str, enum.Enum):
    """How bad a diagnostic is: errors stop a check, warnings do not."""

    ERROR = "error"
    WARNING = "warning"


_CODE_FORMAT = re.compile(r"^[EW]\d{4}$")


@attrs.frozen(slots=True)
class CodeInfo:
    """A registered diagnostic code: ``E`` codes are errors, ``W`` codes warnings.

    The two digits after the letter give the concern (see :data:`GROUPS`).
    """

    code: str = attrs.field()
    title: str
    explanation: str

    @code.validator
    def _check_code(self, _attribute: attrs.Attribute, value: str) -> None:
        if not _CODE_FORMAT.match(value):
            raise ValueError(f"diagnostic code {value!r} is not of the form E0000 or W0000")

    @property
    def severity(self) -> Severity:
        return Severity.WARNING if self.code.startswith("W") else Severity.ERROR

    @property
    def group(self) -> str:
        """The :data:`GROUPS` key this code belongs to."""
        return "W" if self.code.startswith("W") else self.code[:3]


#: Concerns, in the order the documentation lists them: code prefix -> heading.
GROUPS: Mapping[str, str] = {
    "E01": "Syntax and files",
    "E02": "Names",
    "E03": "Keys",
    "E04": "Shapes",
    "E05": "Specs and dtypes",
    "E06": "Arguments",
    "E07": "Distributions and exploration",
    "W": "Warnings",
}

#: Every diagnostic code rldsl can report. Keep entries sorted by code within their group.
CODE_TABLE: tuple[CodeInfo, ...] = (
    # -- E01xx: syntax and files ------------------------------------------------------------
    CodeInfo(
        "E0101",
        "unexpected token",
        "The parser met a word or symbol that cannot continue the declaration it is reading. "
        "The message lists what could have come next; the help line shows the shape of the "
        "declaration. A declaration that has a syntax error is left out of the model, and "
        "parsing goes on with the next declaration, so every syntax error of a file is reported "
        "in one run.",
    ),
    CodeInfo(
        "E0102",
        "unexpected end of file",
        "The file ends in the middle of a declaration: something the declaration needs, such as "
        "a spec after `:` or the keys after `->`, is missing. The caret points at the end of "
        "the file.",
    ),
    CodeInfo(
        "E0103",
        "unclosed delimiter",
        "A `(`, `[` or `{` is never closed: the file, or the declaration, ends first. The caret "
        "points at the opening delimiter; add the matching `)`, `]` or `}`.",
    ),
    CodeInfo(
        "E0104",
        "invalid character",
        "The text contains a character that is not part of the language, outside a string or a "
        "comment. Names are ASCII letters, digits and `_`; comments start with `#`.",
    ),
    CodeInfo(
        "E0105",
        "invalid string literal",
        "A string is not closed on the line it starts on, or it contains an escape sequence "
        "other than `\\\\`, `\\\"`, `\\'`, `\\n`, `\\t` and `\\r`. Strings are written in double "
        "or single quotes and do not span lines.",
    ),
    CodeInfo(
        "E0106",
        "positional argument after keyword argument",
        "As in Python, positional arguments come first: `ValueOperator(net, in=[observation])`, "
        "not `ValueOperator(in=[observation], net)`.",
    ),
    CodeInfo(
        "E0107",
        "missing `:` in a key declaration",
        "A key declaration is `key NAME : SPEC`: the name and its spec are separated by a colon, "
        "as in `key observation : f32[3]`. `=` binds values (dims, envs, modules); `:` gives a "
        "key its type.",
    ),
    CodeInfo(
        "E0108",
        "missing `=` in a declaration",
        "`dim`, `env`, `module`, `actor`, `value` and `explore` declarations bind a name with "
        "`=`: `dim n_agents = 3`, `module body = MLP(out_features=2)`. The `:` after a module "
        "introduces its keys (`: observation -> hidden`), not its definition.",
    ),
    CodeInfo(
        "E0109",
        "`->` without keys on both sides",
        "The keys of a module are written after its definition as `: INPUTS -> OUTPUTS`, with at "
        "least one key on each side: `module body = MLP(out_features=2) : observation -> hidden`.",
    ),
    CodeInfo(
        "E0110",
        "missing comma",
        "Two items follow each other without a `,` between them: arguments of a call, items of a "
        "list, or dimensions of a shape are separated by commas.",
    ),
    CodeInfo(
        "E0111",
        "bounds are not `[low, high]`",
        "A bounded spec is written `DTYPE[SHAPE] in [LOW, HIGH]`: the brackets always hold exactly "
        "two items, the lower and the upper bound. Each bound is a number (the same for every "
        "element) or a list with one number per element: `f32[2] in [[-1, 0], [1, 2]]` has "
        "lower bound `[-1, 0]` and upper bound `[1, 2]`.",
    ),
    CodeInfo(
        "E0112",
        "nesting too deep",
        "Brackets are nested more than 100 deep, or an expression is more than 200 levels deep "
        "(a chain such as `1 + 1 + ... + 1` adds a level per operator). Such text is almost "
        "always generated by mistake; flatten it or give the inner parts names.",
    ),
    CodeInfo(
        "E0113",
        "mismatched closing delimiter",
        "A `)`, `]` or `}` does not match the delimiter that is open at that point, or closes "
        "nothing. The label shows which delimiter is still open.",
    ),
    CodeInfo(
        "E0114",
        "invalid number",
        "A number literal cannot be read, usually because it has too many digits. Integers are "
        "written `3` or `10_000`, up to 2**62 in magnitude; floats `0.5`, `1e-4` or `2.5e3`, "
        "below 1.8e308 (a float such as `1e999` that overflows to infinity is refused); `inf` is "
        "infinity.",
    ),
    CodeInfo(
        "E0115",
        "shape in parentheses",
        "A dtype is followed by its shape in square brackets, `f32[3]`; `f32(3)` reads like a "
        "function call, which a dtype is not.",
    ),
    CodeInfo(
        "E0116",
        "tensor spec without a shape",
        "A tensor spec names its dtype and its shape: `f32[3]` is a vector of three floats, "
        "`f32[]` a scalar. A bare dtype such as `f32` has no shape.",
    ),
    CodeInfo(
        "E0117",
        "reserved word used as a name",
        "The declaration keywords `include`, `dim`, `env`, `key`, `module`, `actor`, `value` and "
        "`explore` cannot name keys, modules or dims (they may still name keyword arguments, as "
        "in `QValueActor(module=q)`). Pick another name, such as `state_value` for `value`.",
    ),
    CodeInfo(
        "E0150",
        "included file not found",
        "An `include \"FILE\"` names a file that does not exist. Include paths are relative to "
        "the directory of the file that contains the `include`.",
    ),
    CodeInfo(
        "E0151",
        "include cycle",
        "Files include each other in a cycle (possibly a file including itself). A file may be "
        "included from several places, and is then read once, but it cannot include itself, "
        "directly or through other files. The labels show every include of the cycle.",
    ),
    CodeInfo(
        "E0152",
        "file cannot be read",
        "A `.rlm` file exists but cannot be read: it is a directory, a device or FIFO (refused before "
        "opening, so nothing waits), access is denied, it is larger than the size limit (1 MiB by "
        "default, `--max-file-bytes`), or its bytes are not UTF-8 text (a NUL byte counts as not text; "
        "such a file is never echoed).",
    ),
    CodeInfo(
        "E0153",
        "include refused",
        "An `include` names a file that a model may not read: one that does not end in `.rlm`, an "
        "absolute path, or a path whose `..` (or a symbolic link) leads out of the root model's folder. "
        "Checking reads only what you point it at: keep shared files below the root model's folder, or "
        "name their folder as an include root (`rldsl check --include-root DIR`, "
        "`rldsl.check(..., include_roots=[DIR])`). Inside an artifact, includes resolve only to the "
        "files stored in it.",
    ),
    # -- E02xx: names ----------------------------------------------------------------------
    CodeInfo(
        "E0201",
        "undefined name",
        "A name is used that no declaration introduces: no `dim`, `env`, `key`, `module`, `actor`, "
        "`value` or `explore` declares it (in this file or an included one). Names used for their "
        "value (in shapes, bounds, specs and spec attributes such as `action.low`) must be declared; "
        "keys that modules produce are written in key positions (`in=[...]`, `: a -> b`) instead.",
    ),
    CodeInfo(
        "E0202",
        "name declared twice",
        "Dims, envs, keys and modules share one namespace, and each name is declared once per model "
        "(includes count). Rename one of the two declarations, or remove the one that is not needed. "
        "The same holds for the entries of a composite spec.",
    ),
    CodeInfo(
        "E0203",
        "declarations depend on each other in a cycle",
        "A declaration refers, directly or through others, to itself: a key whose spec is another "
        "key's spec which is the first key's, a dim defined by itself, or a module that contains "
        "itself. Such a definition has no meaning; break the cycle by writing one of the parts out.",
    ),
    CodeInfo(
        "E0204",
        "unknown module kind",
        "A constructor call names no known kind: module kinds are torchrl's class names (`MLP`, "
        "`Actor`, `ProbabilisticActor`, `QValueActor`, `EGreedyModule`, ...), spelt exactly. "
        "`docs/language.md` lists every kind with its arguments. A torchrl.modules class that rldsl "
        "has no kind for yet (`LSTMModule`, `DTActor`, ...) is named as such, never \"corrected\" to "
        "a kind that merely looks alike.",
    ),
    CodeInfo(
        "E0205",
        "name of the wrong sort",
        "A name is used where a different sort of thing is expected: a key where a module is "
        "expected, a module where a spec or a number is expected, an env where a key is expected. "
        "Keys have specs and attributes (`action.shape`), modules are networks or operators, dims "
        "are sizes, and an env's specs are reached as `env.entry` (`pendulum.action`).",
    ),
    CodeInfo(
        "E0206",
        "unknown attribute or entry",
        "A dotted name goes on past what its first part has: a spec has the attributes `shape`, "
        "`ndim`, `dtype`, `low` and `high` (bounded specs), `n` (one-hot, categorical and binary "
        "specs) and `nvec` (multi specs); a composite spec has its entries, and an env the keys it "
        "provides (`observation`, `action`, `reward`, `done`, `terminated`, `truncated`).",
    ),
    # -- E03xx: keys -----------------------------------------------------------------------
    CodeInfo(
        "E0301",
        "key read but never written",
        "A module reads a key that is neither declared (by `key` or an `env`) nor written by any "
        "module of the model, so at run time the tensordict would not hold it. Declare the key, "
        "correct its spelling, or add the module that produces it. Keys that a declaration with an "
        "error would have provided are not reported: the keys a module declaration with an error "
        "names after `->` count as written, and while an env has an error (an id gymnasium does not "
        "know) or a module whose outputs cannot be known has one (an unknown kind), no key is "
        "reported as never written.",
    ),
    CodeInfo(
        "E0302",
        "key written twice by one module",
        "One module lists the same key twice among its outputs, so one output would silently replace "
        "the other. Give each output its own key.",
    ),
    CodeInfo(
        "E0303",
        "key read before it is written",
        "Modules in a sequence (`a >> b`, `SafeSequential`, joined operators, an exploration module "
        "after its policy) run in order. A module reads a key that only a later module of the same "
        "sequence writes: reorder the modules so that the producer comes first.",
    ),
    CodeInfo(
        "E0304",
        "modules read each other's outputs in a cycle",
        "Each module of a group reads a key that another module of the group writes, round in a "
        "circle, and none of the keys is declared: no module can run first. Declare one of the keys "
        "(it then comes from the data) or change what the modules read.",
    ),
    CodeInfo(
        "E0305",
        "wrong number of keys",
        "A network returns a fixed number of tensors (an MLP one, a `NormalParamExtractor` two: `loc` "
        "and `scale`), and a module gives each its own key: the keys after `->` (or in `out=[...]`) "
        "must be as many as the network's outputs.",
    ),
    CodeInfo(
        "E0306",
        "keys given in the wrong place",
        "A network becomes a module when its keys are given after the definition, "
        "`module body = MLP(out_features=64) : observation -> hidden`. Kinds that are modules "
        "already (`Actor`, `ValueOperator`, `ProbabilisticActor`, ...) take their keys as arguments "
        "(`in=[...]`, `out=[...]`) instead.",
    ),
    CodeInfo(
        "E0307",
        "a value head writes the wrong key",
        "`ActorCriticOperator` joins a policy with a Q-value head: the head reads the action and "
        "writes `state_action_value`. A head writing `state_value` estimates V(s), which belongs in "
        "an `ActorValueOperator`.",
    ),
    CodeInfo(
        "E0308",
        "action values are not where the Q-value module reads them",
        "A Q-value module reads the action values at `action_value_key` (default `action_value`) and "
        "writes `[action, action_value, chosen_action_value]`, the action-value key second: the module "
        "given to `QValueActor` must write that key, and `out=` must list it second.",
    ),
    # -- E04xx: shapes ---------------------------------------------------------------------
    CodeInfo(
        "E0401",
        "shapes do not match",
        "Two tensors that must have the same shape do not: the inputs of an MLP must agree on every "
        "dim but the last (they are concatenated on it), the parameters of a distribution (`loc` and "
        "`scale`, `logits` and `mask`) must have one shape, an agent dim must be `n_agents`.",
    ),
    CodeInfo(
        "E0402",
        "output shape differs from the key's spec",
        "A module writes a declared key with a tensor of another shape than the key's spec: the spec "
        "is the contract for every value the key holds, so the network's output size (for instance "
        "`out_features`) must give the spec's shape. Shapes exclude batch dims.",
    ),
    CodeInfo(
        "E0403",
        "action values do not fit the action spec",
        "A Q-value module chooses among the last dim of the action values: for `onehot(n)` they have "
        "the spec's shape, for `categorical(n)` the spec's shape plus `n`, for multi specs the sum "
        "of the variable sizes. Make the value network output one value per action.",
    ),
    CodeInfo(
        "E0404",
        "distributional head shape",
        "A distributional Q-value head outputs `[bins, actions]` values per sample (for instance "
        "`MLP(out_features=(bins, actions))`) and the `support` has one atom value per bin: its "
        "length must equal the bins dim.",
    ),
    CodeInfo(
        "E0405",
        "last dim must be even",
        "`NormalParamExtractor` splits the last dim in two halves, `loc` and `scale`: the network "
        "before it must output an even number of features, usually `2 * action.shape[-1]`.",
    ),
    CodeInfo(
        "E0406",
        "input features do not match",
        "A layer's `in_features` (or `n_agent_inputs`) differs from the size of the last dim of what "
        "it reads, or a named network is used in two places with inputs of different sizes (a "
        "network has one set of weights, so one input size). Drop `in_features` (the checker knows "
        "it) or correct it.",
    ),
    CodeInfo(
        "E0407",
        "wrong number of inputs",
        "A network is given more or fewer tensors than it takes: `Linear`, activations and "
        "`NormalParamExtractor` take one tensor, an MLP one or more (concatenated). Check the keys "
        "before `->`, or what the previous stage of `>>` returns.",
    ),
    CodeInfo(
        "E0408",
        "invalid dimension",
        "A dimension is a positive integer, a `dim` name, or arithmetic on them that gives a positive "
        "integer: `f32[2 * n_actions]`. A negative, zero or fractional size, or a non-number, is not "
        "a dimension.",
    ),
    CodeInfo(
        "E0409",
        "key written with two different specs",
        "Two modules write the same undeclared key with tensors of different shapes or dtypes, so "
        "the key has no single spec. Declare the key with `key NAME : SPEC` to say which is meant, "
        "or give the outputs different keys.",
    ),
    CodeInfo(
        "E0410",
        "size too large",
        "A dimension, a size argument (`out_features`, `num_cells`, `depth`, ...) or the length "
        "of a vector is at most 2**31 - 1 (2147483647). The limit keeps the checker's arithmetic "
        "bounded and every size one that torch can index.",
    ),
    CodeInfo(
        "E0411",
        "spec too large",
        "One key's spec holds at most 2**40 elements (the product of its shape, summed over the "
        "entries of a composite). A larger spec could never be allocated; check the dims of the "
        "shape.",
    ),
    CodeInfo(
        "E0420",
        "convolution leaves an empty image",
        "Each layer of a `ConvNet` (or `Conv3dNet`) maps a spatial size `s` to `(s + 2 * padding - "
        "kernel) // stride + 1`, which must stay at least 1: a kernel larger than the padded image "
        "it gets leaves nothing. The image shrinks layer by layer (Atari's 84 goes 84 -> 20 -> 9 "
        "-> 7 through kernels 8, 4, 3 and strides 4, 2, 1), so a large stride early can starve a "
        "later layer. Use smaller kernels or strides, or pad (`paddings=1`).",
    ),
    CodeInfo(
        "E0421",
        "conv layer lists disagree",
        "A conv network has one entry per layer in each list argument (`num_cells`, "
        "`kernel_sizes`, `strides`, `paddings`), and `depth`, when given, is that number of "
        "layers; a single value is used for every layer. Lists of different lengths, a list that "
        "is not `depth` long, or single values everywhere without `depth`, leave the number of "
        "layers undecided. Left out, `num_cells` is `[32, 32, 32]` (three layers).",
    ),
    CodeInfo(
        "E0422",
        "input is not an image",
        "A conv network reads images `[*B, C, H, W]` (`Conv3dNet`: `[*B, C, D, H, W]`): the spec "
        "of its input needs the channels and spatial dims, as `f32[3, 84, 84]`; flat features go "
        "to an MLP. `SquashDims(n)` flattens the last `n` dims, so its input needs at least `n`.",
    ),
    CodeInfo(
        "E0423",
        "squeezed dim is not 1",
        "`SqueezeLayer`, `Squeeze2dLayer` and `squeeze_output=true` remove trailing dims of size 1 "
        "(the 1x1 image left by a pooling aggregator). A dim of another size, or one the spec does "
        "not have, cannot be removed; after `SquashDims` the output is already flat.",
    ),
    CodeInfo(
        "E0425",
        "value head does not fit the advantages",
        "A dueling Q-network (`DuelingMlpDQNet`, `DuelingCnnDQNet`) returns `value + advantage - "
        "mean(advantage)`: the value head's output is added to every advantage, so its width "
        "`out_features_value` is 1 (one state value, the usual dueling head) or the number of "
        "advantages (the last dim of `out_features`). Any other width cannot be added (torchrl "
        "builds the network and fails at its first call).",
    ),
    CodeInfo(
        "E0430",
        "agent dim does not match `n_agents`",
        "A multi-agent module reads its input with one entry per agent on its agent dim, which "
        "must be `n_agents` long: a mixer's agents' values are `[*B, n_agents, 1]` and a "
        "`MultiAgentMLP`'s inputs `[*B, n_agents, features]` (the agent dim second to last), a "
        "`MultiAgentConvNet`'s images `[*B, n_agents, C, H, W]` (the agent dim "
        "fourth from the end). Make `n_agents` the size of that dim, or read the key that has one "
        "entry per agent.",
    ),
    CodeInfo(
        "E0431",
        "agent values are not `[*B, n_agents, 1]`",
        "A mixer (`QMixer`, `VDNMixer`) reads one number per agent, the value of the action it "
        "chose, in a trailing dim of size 1: `[*B, n_agents, 1]`, as a Q-value module writes "
        "`chosen_action_value` for each agent. Read the chosen action values (not all action "
        "values), or declare the key with its trailing 1, as `f32[n_agents, 1]`.",
    ),
    CodeInfo(
        "E0432",
        "state does not match `state_shape`",
        "A `QMixer` reads the global state as `[*B, *state_shape]`: the state key's trailing dims "
        "must be `state_shape` (its hypernetworks read the state flattened to the product of "
        "`state_shape`). Make `state_shape` the shape of the state key without batch dims.",
    ),
    CodeInfo(
        "E0433",
        "mixer inputs have different batch dims",
        "A `QMixer` computes one joint value per sample from the agents' values `[*B, n_agents, "
        "1]` and the global state `[*B, *state_shape]`: the dims before them (`*B`) must be the "
        "same in both. A state with one entry per agent is not a global state; read one state per "
        "sample, or give `state_shape` every dim of the state.",
    ),
    CodeInfo(
        "E0434",
        "multi-agent images are not `[*B, n_agents, C, H, W]`",
        "A `MultiAgentConvNet` reads one image per agent: a float tensor `[*B, n_agents, C, H, "
        "W]`, the agent dim fourth from the end. Declare the key with its agents, channels, "
        "height and width, as `f32[n_agents, 3, 84, 84]`; flat per-agent features go to a "
        "`MultiAgentMLP`.",
    ),
    CodeInfo(
        "E0435",
        "input has the wrong number of dims",
        "Some layers read tensors of a fixed number of dims (after the batch dims): `BatchRenorm1d` "
        "normalises feature vectors `[num_features]` (at run time `[batch, num_features]`, the "
        "features on dim 1, as in torchrl), `LSTMNet` reads one step `[features]` or a sequence "
        "`[time, features]`. Declare the key with that shape, or flatten it with a network first.",
    ),
    CodeInfo(
        "E0436",
        "dropout mask key already written",
        "A `ConsistentDropoutModule` keeps its mask under `mask_key` (by default `<out>_dropout_mask`) "
        "and reads it back when the key is present, so that an update replays the masks of its "
        "rollout. Another module writing the same key would hand it its own value as a mask: two "
        "dropout modules on one key (with the default mask name), or a network output named like "
        "the mask. Give each dropout module a mask key of its own with `mask_key=...`.",
    ),
    CodeInfo(
        "E0440",
        "a vmapped module draws random numbers",
        "`VmapModule` maps its module with `torch.vmap`, whose default `randomness=\"error\"` fails at "
        "the first random draw inside the mapped module: exploration noise (`EGreedyModule`, "
        "`AdditiveGaussianModule`, `OrnsteinUhlenbeckProcessModule`), a distribution sampled by "
        "default (`default_interaction_type=\"random\"`) or dropout in a network. Pass "
        "`randomness=\"different\"` (each slice draws its own numbers) or `\"same\"`, or `mock=true` (a "
        "loop over the slices).",
    ),
    CodeInfo(
        "E0441",
        "a registered kind refuses its inputs",
        "A kind registered from Python (`rldsl.register_kind`) checks its inputs and arguments with "
        "the type rule given to it, and that rule refused them (it raised "
        "`rldsl.registry.KindRuleError`). The message is the rule's own; see what the kind accepts in "
        "the code that registers it.",
    ),
    CodeInfo(
        "E0442",
        "a registered kind's type rule failed",
        "The type rule given to `rldsl.register_kind` (`shape=`) raised an exception other than "
        "`KindRuleError`, or returned something that is not output shapes: a tuple of positive sizes "
        "(or names of the inputs' dims of unknown size) for one output, a list of them for several. "
        "This is a bug in the rule, not in the model; the message says what it did.",
    ),
    CodeInfo(
        "E0445",
        "input does not match the norm's size",
        "A normalisation layer is built for a number of channels or a shape, and its input must "
        "have it: `BatchNorm1d`/`2d`/`3d` and `InstanceNorm1d`/`2d`/`3d` read `num_features` "
        "channels (dim -1 of `[*B, C]` for `BatchNorm1d`, dim -2 of `[*B, C, L]` for "
        "`InstanceNorm1d`, dim -3 of images `[*B, C, H, W]`, dim -4 of volumes), `GroupNorm` "
        "`num_channels` (dim -1 of a vector, -2 of a spec of two dims, -3 of one of three dims or "
        "more) and `LayerNorm` reads trailing dims equal to `normalized_shape`. Make the argument "
        "the size the input has.",
    ),
    CodeInfo(
        "E0446",
        "input has too few dims for the norm",
        "A normalisation layer needs the dims it normalises over: `BatchNorm1d` and `GroupNorm` a "
        "vector `[*B, C]`, `InstanceNorm1d` a sequence `[*B, C, L]`, the 2d norms an image "
        "`[*B, C, H, W]`, the 3d norms a volume `[*B, C, D, H, W]`, and `LayerNorm` at least as "
        "many dims as `normalized_shape` lists. Declare the key with those dims (`f32[3, 84, 84]` "
        "for an image), or use the norm that fits the input.",
    ),
    CodeInfo(
        "E0447",
        "`num_channels` is not divisible by `num_groups`",
        "`GroupNorm` splits its `num_channels` channels into `num_groups` groups of the same size, "
        "so `num_groups` must divide `num_channels` (torch refuses any other pair when the layer is "
        "built). Choose a divisor of the number of channels: `GroupNorm(8, 32)`, or one group per "
        "channel (`num_groups` equal to `num_channels`).",
    ),
    CodeInfo(
        "E0450",
        "image too small for `ObsEncoder`",
        "Dreamer's `ObsEncoder` runs `num_layers` convs with a 4x4 kernel and stride 2, each mapping "
        "a side `s` to `(s - 4) // 2 + 1`, which must stay at least 1: 4 layers need images of at "
        "least 46x46 (Dreamer's 64x64 frames go 64 -> 31 -> 14 -> 6 -> 2, 1024 features), 3 layers "
        "22x22. Resize the frames with a transform before the model, or use fewer layers.",
    ),
    CodeInfo(
        "E0451",
        "state or belief width differs from the RSSM's size",
        "The RSSM networks are built for a stochastic state of `state_dim` features (30 by default) "
        "and a belief of `rnn_hidden_dim` features (200 by default): `RSSMPrior` reads `[*B, "
        "state_dim]` and `[*B, rnn_hidden_dim]`, `RSSMPosterior` a belief of `rnn_hidden_dim` when it "
        "is given. Declare the `state` and `belief` keys with those sizes, or give the networks the "
        "sizes of the keys.",
    ),
    CodeInfo(
        "E0452",
        "action does not match `action_spec`",
        "`RSSMPrior` joins the action to the state and is built for the actions of its `action_spec`: "
        "the action it reads must end with the spec's shape, `action_dim` (when given) is the spec's "
        "last dim, and the spec is a tensor spec with a feature dim. Pass the spec of the action key "
        "the prior reads, as in `RSSMPrior(action)`.",
    ),
    CodeInfo(
        "E0453",
        "rollout carries a key to another spec",
        "`RSSMRollout` runs its prior and posterior step by step over the time dim, and hands each "
        "step's `next.k` (the next state and belief the modules write) to the next step as `k`, which "
        "the prior reads: the two keys must have the same shape and dtype. Declare `state` and "
        "`belief` with the sizes the networks write (`state_dim`, `rnn_hidden_dim`), or size the "
        "networks for the keys.",
    ),
    CodeInfo(
        "E0454",
        "rollout carries nothing from step to step",
        "`RSSMRollout` carries each key `k` its prior reads whose `next.k` the prior or the posterior "
        "writes to the next step; without one, the steps are independent and the model has no memory. "
        "Write the next state and belief under `next`, as Dreamer does: the prior `: state, belief, "
        "action -> next.prior_mean, next.prior_std, _prior_state, next.belief`, the posterior `: "
        "next.belief, next.encoded_latents -> next.posterior_mean, next.posterior_std, next.state`.",
    ),
    CodeInfo(
        "E0455",
        "`n_embd` is not divisible by `n_head`",
        "A decision transformer's attention splits each token's `n_embd` features into `n_head` heads of "
        "the same width, so `n_head` must divide `n_embd` (GPT-2 refuses any other pair when the model is "
        "built). Choose a divisor: `dict(n_embd=128, n_head=4)`.",
    ),
    CodeInfo(
        "E0456",
        "window longer than the transformer's positions",
        "A decision transformer turns each step of its window into three tokens (return-to-go, state, "
        "action) and gives each token one of GPT-2's `n_positions` learned positions, so a window holds "
        "at most `n_positions // 3` steps (341 with the default 1024). Shorten the time dim of the "
        "windows (`dim context = 20`), or raise `n_positions` in the configuration "
        "(`config=dict(n_positions=...)`, `transformer_config=` for the actors).",
    ),
    CodeInfo(
        "E0457",
        "sequence without a time dim",
        "Decision transformers read windows of steps `[*B, T, features]`: the second-to-last dim is the "
        "time dim. A key without one (`f32[17]`) is a single step. Declare the window with its time "
        "(context) dim before the features: `dim context = 20` and `key observation : f32[context, 17]`. "
        "The inference wrapper also needs the policy's action at every step, `[*B, T, A]`.",
    ),
    CodeInfo(
        "E0458",
        "wrapper and policy disagree on keys",
        "`DecisionTransformerInferenceWrapper` masks three windows (`observation`, `action`, "
        "`return_to_go`) for its policy, which must read them, and keeps the last step of the per-step "
        "action the policy writes at `out_action`, which the policy must write (torchrl raises ValueError "
        "at the first call otherwise). Name the keys the policy reads and writes: "
        "`observation=observation_cat`, ..., `out_action=action_steps`.",
    ),
    CodeInfo(
        "E0459",
        "last step shares a key with a window",
        "`DecisionTransformerInferenceWrapper` writes the last step's action `[*B, A]` to `last_action`; "
        "that key cannot be one of the windows or an output of the policy, which hold every step `[*B, T, "
        "...]`: a key has one spec. (torchrl's wrapper overwrites the policy's action key in place; rldsl "
        "keeps the per-step actions and writes the last one to its own key.) Give it a key of its own, "
        "usually the env's `action`.",
    ),
    CodeInfo(
        "E0460",
        "world model does not model a step",
        "A `ModelEnv` steps its world model as an environment: it reads the observations and the "
        "action and writes the next value of every observation under `next`, of the observation's "
        "shape and dtype, as in `: observation, action -> next.observation`. The observations are "
        "what the world model reads, but the action (or the keys `observation_spec` lists). Read "
        "the action, and write `next.X` for each observation `X`.",
    ),
    CodeInfo(
        "E0461",
        "a planner needs a `ModelEnv`",
        "`CEMPlanner` and `MPPIPlanner` roll candidate action sequences out in a model environment: "
        "their `env` is a `ModelEnv` built from a world model and a reward model, declared "
        "(`module model = ModelEnv(world, reward, spec=action)`) or written inline. Another module "
        "cannot be stepped.",
    ),
    CodeInfo(
        "E0462",
        "model step has no proper reward",
        "A `ModelEnv` step ends with a float reward of shape `[1]` at `next.reward`, where the "
        "planners read it, written by the reward model (or by the world model when there is none). "
        "The reward model runs after the world model has moved the step on, so it reads what the "
        "world model writes (`next.observation`) and the action, not the observation the step "
        "started from.",
    ),
    CodeInfo(
        "E0463",
        "MPPI advantage module does not fit the rollout",
        "`MPPIPlanner` runs its `advantage_module` on the rollout of the candidates, which holds the "
        "observations, the action and the done flags of each step and what the step wrote under "
        "`next`; it must write a float `advantage` (the first step's scores the candidate), as in "
        "`module adv = MLP(out_features=1) : observation, action -> advantage`.",
    ),
    CodeInfo(
        "E0464",
        "a Gaussian planner needs continuous actions",
        "`CEMPlanner` and `MPPIPlanner` draw action sequences from a Gaussian and refit it to the "
        "best; in a model file their action spec is continuous (`f32[n]`, bounded or not), the "
        "actions a network world model reads. (The Python classes also accept a discrete spec and "
        "project the draws into it, losing what the Gaussian was fitted to.) Discrete actions are "
        "chosen by a Q-value actor or a categorical probabilistic actor.",
    ),
    CodeInfo(
        "E0465",
        "diffusion schedule out of range",
        "A `DiffusionActor` denoises its action over `num_steps` steps of a DDPM chain whose noise "
        "variances rise linearly from `beta_start` to `beta_end`: it needs at least one step (and at "
        "most 10,000: every call runs the score network once per step), and `0 < beta_start < "
        "beta_end < 1` (a variance of 0 makes the first reverse step divide by zero, one of 1 the "
        "others). torchrl's defaults, `num_steps=100, beta_start=1e-4, beta_end=0.02`, are the DDPM "
        "paper's variances.",
    ),
    CodeInfo(
        "E0466",
        "score network does not predict the action's noise",
        "A `DiffusionActor`'s `score_network` reads the noisy action, the observation and the "
        "timestep concatenated on the last dim, `[*B, action_dim + obs_dim + 1]`, and returns the "
        "noise it predicts in the action: one float tensor `[*B, action_dim]`. End it with "
        "`action_dim` outputs, as in `MLP(out_features=6, num_cells=[256, 256])` for six actions.",
    ),
    # -- E05xx: specs and dtypes ------------------------------------------------------------
    CodeInfo(
        "E0501",
        "unknown dtype",
        "A tensor spec starts with a dtype: one of `f16`, `f32`, `f64`, `bf16`, `i8`, `i16`, "
        "`i32`, `i64`, `u8` or `bool` (torch's float16, float32, float64, bfloat16, int8, int16, "
        "int32, int64, uint8 and bool).",
    ),
    CodeInfo(
        "E0502",
        "unknown spec type",
        "A spec is a tensor spec (`f32[3]`, `f32[1] in [-2, 2]`), one of `onehot(n)`, "
        "`categorical(n)`, `binary(n)`, `multionehot([n, ...])`, `multicategorical([n, ...])`, a "
        "composite `{ name: spec, ... }`, or the name of a key or env spec whose spec is reused.",
    ),
    CodeInfo(
        "E0503",
        "dtype mismatch",
        "A tensor has another dtype than the one required: networks read floating-point tensors of "
        "one dtype, masks are `bool`, and a value written to a declared key has the key's dtype "
        "(a Q-value actor writes one-hot actions as `i64`: declare `onehot(n, dtype=i64)`, or pass "
        "`safe=true` to cast into the spec).",
    ),
    CodeInfo(
        "E0504",
        "spec of the wrong sort",
        "A continuous value (floats: network outputs, Gaussian samples) is written where a discrete "
        "spec (one-hot, categorical, ...) is declared, or the reverse, or one discrete encoding where "
        "another is declared. Use a module that produces the declared sort of action: a Q-value actor "
        "or a categorical distribution for discrete actions, a network or a normal distribution for "
        "continuous ones.",
    ),
    CodeInfo(
        "E0505",
        "key declared unlike the env's spec",
        "A key the env provides is also declared with `key`, with another dtype, shape or sort of "
        "spec than the env's. Make the declaration match the env (or drop it: the env's spec is "
        "used).",
    ),
    CodeInfo(
        "E0506",
        "invalid spec",
        "A spec cannot exist as written: bounds with `low > high` or with another number of elements "
        "than the shape, a one-hot or binary shape that does not end with `n`, a size that is not "
        "positive, a discrete spec with a floating dtype, or a composite entry whose shape does not "
        "start with the composite's batch shape.",
    ),
    CodeInfo(
        "E0507",
        "invalid mask",
        "A mask says which actions are allowed: it is boolean (`true` = allowed) and has one entry per "
        "action, laid out like the action values (for `categorical(n)`, the spec's shape plus `n`). "
        "Mask keys (`action_mask_key=`) must be declared `bool[...]` with that shape.",
    ),
    CodeInfo(
        "E0508",
        "env cannot be read",
        "`gym(\"ID\")` asks gymnasium to make the env and reads its spaces: the id must be registered "
        "(spelt exactly, with its version), the packages the env needs installed, the options valid "
        "for its constructor, and the spaces of a supported sort (Box, Discrete, MultiDiscrete, "
        "MultiBinary, Dict, Tuple).",
    ),
    CodeInfo(
        "E0509",
        "spec argument differs from the key's spec",
        "A module's `spec=` argument is the spec of the key it writes; when that key is declared "
        "with another spec, one of the two is wrong. Pass the key itself, `spec=action`.",
    ),
    CodeInfo(
        "E0510",
        "number out of range",
        "The result of integer arithmetic (on numbers, dims or spec attributes) is above 2**62 in "
        "magnitude. The checker refuses it where it is computed, so that no chain of "
        "multiplications can make it work with huge numbers. Sizes are limited further, to "
        "2**31 - 1 (E0410). A float argument of a module is out of range when it is finite but "
        "beyond the largest f32 number (about 3.4e38): torch cannot hold it in an f32 tensor.",
    ),
    CodeInfo(
        "E0511",
        "not a finite number",
        "Float arithmetic gave NaN (`inf - inf`, `0 * inf`) or overflowed to infinity from finite "
        "numbers (`1e308 * 10`). Neither is a usable bound or argument; write a finite number, or "
        "`inf` itself where an unbounded side is meant.",
    ),
    CodeInfo(
        "E0515",
        "network input not in the compile dtype",
        "A network's weights are made in the dtype the model is compiled in (`f32`, or `f64` with "
        "`rldsl compile --dtype f64` / `rldsl.compile(..., dtype=\"f64\")`; `f32` keys follow that "
        "choice), so every float tensor it reads must be in that dtype too: an `f16` or `bf16` "
        "input, or an `f64` one compiled as `f32`, cannot meet the weights. Declare the key in the "
        "compile dtype, or compile with the dtype the key has (`rldsl compile --dtype` checks for the "
        "dtype it compiles in, `rldsl.check(..., dtype=...)` for the one given, f32 by default).",
    ),
    CodeInfo(
        "E0516",
        "key written inside a tensor",
        "A nested key (`observation.x`) lives inside its parent, which must then be a composite (a "
        "nested tensordict); a parent declared or written as a tensor cannot hold entries, and the "
        "write would fail at run time. Write the value to a key of its own, or declare the parent "
        "as a composite.",
    ),
    # -- E06xx: arguments -------------------------------------------------------------------
    CodeInfo(
        "E0601",
        "argument given twice",
        "The same keyword argument or spec option appears twice in one call; only one value can "
        "be used, so remove the other.",
    ),
    CodeInfo(
        "E0602",
        "unknown argument",
        "A keyword argument is not one the kind takes. Argument names are torchrl's, with two "
        "exceptions: keys are `in=` and `out=` (torchrl's `in_keys` and `out_keys`), and a "
        "distribution is `dist=TanhNormal(low=..., high=...)` (torchrl's `distribution_class` and "
        "`distribution_kwargs`).",
    ),
    CodeInfo(
        "E0603",
        "missing argument",
        "A kind needs an argument that is not given: `MLP` its `out_features`, exploration modules "
        "their `spec`, a Q-value module a `spec` or an `action_space`, `safe=true` a `spec` to "
        "project into.",
    ),
    CodeInfo(
        "E0604",
        "argument of the wrong type",
        "An argument has the wrong sort of value: a number where a key list is expected, a string "
        "where a key is expected (keys are names, not strings), a module where a number is expected, "
        "and so on. The message says what the argument takes.",
    ),
    CodeInfo(
        "E0605",
        "too many positional arguments",
        "A call passes more arguments by position than the kind takes that way. Name the extra "
        "arguments (`out_features=4`) or remove them.",
    ),
    CodeInfo(
        "E0606",
        "invalid argument value",
        "An argument has the right type but a value the kind refuses: a negative size, a `num_cells` "
        "list whose length is not `depth`, a string that is not one of the accepted choices, an "
        "index out of range.",
    ),
    CodeInfo(
        "E0607",
        "network and module mixed up",
        "A network (an MLP, a layer: tensors in, tensors out) and a module (it reads and writes keys) "
        "are not interchangeable: `Actor`, `ValueOperator` and `QValueActor` wrap a network, "
        "`ProbabilisticActor` and the joined operators take modules, and the stages of `a >> b` are "
        "either all networks or all modules. Give a network keys (`: inputs -> outputs`) to make it "
        "a module.",
    ),
    CodeInfo(
        "E0608",
        "shared bias with a noisy layer",
        "`MLP(single_bias_last_layer=true)` replaces the output layer's bias by one shared scalar, "
        "and a noisy layer class (`layer_class=NoisyLinear`) cannot give its bias away: its bias is "
        "noisy, `bias_mu + bias_sigma * bias_epsilon`, as its weights are (torchrl refuses the "
        "pair with a ValueError). Drop `single_bias_last_layer=true`, or use `layer_class=Linear`.",
    ),
    CodeInfo(
        "E0609",
        "invalid noise scale",
        "`std_init` of a noisy layer (`NoisyLinear`) is the initial standard deviation of its "
        "factorised Gaussian noise, before division by the square root of the layer's fan-in (fan-out "
        "for the bias): a finite number of at least 0 (`0.5`, the paper's, by default; `0` starts "
        "without noise and lets training grow it). The noise is used only under the `random` "
        "exploration type (or in training mode with `use_exploration_type=false`) and is redrawn "
        "only by `rldsl.modules.reset_noise`.",
    ),
    # -- E07xx: distributions and exploration -----------------------------------------------
    CodeInfo(
        "E0701",
        "distribution parameters do not match its inputs",
        "A probabilistic module passes each key it reads to the distribution under the key's last "
        "name: `in=[loc, scale]` gives `loc` and `scale`. The names must be the distribution's "
        "parameters (`loc`/`scale` for normal distributions, `logits` or `probs` for categorical "
        "ones, `param` for `Delta`), and every parameter the distribution needs must be there.",
    ),
    CodeInfo(
        "E0702",
        "distribution bounds do not match the spec",
        "A bounded distribution (`TanhNormal`, `TruncatedNormal`, `TanhDelta`) has bounds `low < "
        "high`, and its samples must lie in the action's spec: pass the spec's bounds, "
        "`TanhNormal(low=action.low, high=action.high)`.",
    ),
    CodeInfo(
        "E0703",
        "distribution of the wrong sort for the action",
        "A discrete distribution (`OneHotCategorical`, `Categorical`, masked variants) gives discrete "
        "actions and a continuous one (`TanhNormal`, `Normal`, `Delta`, ...) continuous actions; the "
        "action's spec must be of the same sort, and one-hot distributions give one-hot actions while "
        "`Categorical` gives indices. `safe=true` does not bridge the two: a projected sample is not a "
        "sample of the distribution, and its log-probability means nothing.",
    ),
    CodeInfo(
        "E0704",
        "exploration needs another sort of spec",
        "Epsilon-greedy exploration draws random actions of a discrete spec (one-hot, categorical, "
        "...); Gaussian and Ornstein-Uhlenbeck noise perturb continuous actions and need a "
        "continuous spec (`f32[...]`, bounded or not).",
    ),
    CodeInfo(
        "E0705",
        "invalid annealing schedule",
        "Exploration modules anneal a factor from its initial to its final value over "
        "`annealing_num_steps` steps: the final value must not exceed the initial one, epsilons lie in "
        "`[0, 1]`, and the number of steps is positive.",
    ),
    CodeInfo(
        "E0706",
        "Q-value module needs a discrete action spec",
        "A Q-value module picks the action with the highest value among a discrete set: its `spec` "
        "is one-hot, categorical, multi-one-hot, multi-categorical or binary, and `action_space`, "
        "when given, names the same encoding.",
    ),
    CodeInfo(
        "E0708",
        "distribution has no such statistic",
        "`default_interaction_type` says what a probabilistic module writes outside an exploration "
        "context: `\"deterministic\"` (the default), `\"random\"` (a sample), or a statistic of the "
        "distribution, `\"mode\"`, `\"median\"` or `\"mean\"`. Only statistics the distribution has "
        "can be asked for: none has a median, `TanhNormal` has no closed-form mode, and the mean of a "
        "categorical distribution is not an action.",
    ),
    CodeInfo(
        "E0709",
        "exploration parameter not finite",
        "The parameters of exploration noise (`sigma_init`, `sigma_end`, `mean`, `std` of "
        "`AdditiveGaussianModule`; `eps_init`, `eps_end`, `theta`, `mu`, `sigma`, `dt`, `x0`, "
        "`sigma_min` of `OrnsteinUhlenbeckProcessModule`) must be finite numbers: the runtime modules "
        "refuse `inf` and NaN, which would make every action infinite or NaN.",
    ),
    CodeInfo(
        "E0710",
        "distributional values are not log-probabilities",
        "A distributional Q-value head reads, per action, log-probabilities over the value atoms: "
        "numbers that are never positive (the runtime refuses positive ones). A network's raw output "
        "is not; `DistributionalQValueActor` normalises it with a log-softmax over the atoms "
        "(`make_log_softmax=true`, the default). Feed `DistributionalQValueModule` such values, or a "
        "declared key holding them.",
    ),
    CodeInfo(
        "E0711",
        "distribution parameter not known to be in its domain",
        "Some distribution parameters have a domain: a normal distribution's `scale` is positive, "
        "`probs` lie in [0, 1]. The checker follows value ranges through networks (a linear layer's "
        "output can be anything; `Tanh` is in [-1, 1]; `Softplus` and `NormalParamExtractor`'s scale "
        "are positive, while `ReLU` gives 0 itself, which no scale may be) and through declarations (`f32[2] in [1e-4, inf]`), and the value read "
        "must be known to lie in the domain, else torch refuses it or the log-probabilities turn NaN "
        "during training. The error is shown where the value is produced: end the network with the "
        "mapping that guarantees the domain (`NormalParamExtractor()`, `>> Softplus()`), read "
        "`logits` instead of `probs`, or declare the key within the domain.",
    ),
    CodeInfo(
        "E0712",
        "log-probability of a point mass",
        "`Delta` and `TanhDelta` put all their mass on one value: a deterministic policy written as a "
        "distribution. They have no density, so a log-probability (`return_log_prob=true`) is 0 at "
        "the policy's own action and -inf anywhere else, and no loss can learn from it. Drop "
        "`return_log_prob`, or use a distribution with a density (`TanhNormal`, `Normal`) for a "
        "stochastic policy.",
    ),
    # -- Wxxxx: warnings --------------------------------------------------------------------
    CodeInfo(
        "W0150",
        "file included twice",
        "The same file is included twice from one file. Every file is read once, so the second "
        "`include` does nothing and can be removed.",
    ),
    CodeInfo(
        "W0201",
        "declaration role does not fit the module",
        "The keyword of a declaration says what the module is for: `actor` a policy, `value` a value "
        "or Q-value operator, `explore` an exploration module, `module` anything. A policy declared "
        "with `value` (or the like) is probably a mistake; use the keyword that fits, or `module`.",
    ),
    CodeInfo(
        "W0202",
        "value wider than one number",
        "By torchrl's convention a value head writes one number per sample: `state_value` and "
        "`state_action_value` are `[*B, 1]`, and the losses and advantage modules read them so. A "
        "`ValueOperator` whose network gives more (`out_features=2`) is usually a slip; when it is "
        "meant (an ensemble, quantiles), say so by declaring the key with its width, as `key "
        "state_action_value : f32[25]`.",
    ),
    CodeInfo(
        "W0203",
        "head bypasses the shared trunk",
        "`ActorValueOperator` and `ActorCriticOperator` run a shared trunk, then a policy head and a "
        "value head on what the trunk writes. A head that reads none of the trunk's outputs (it reads "
        "`observation` where the trunk writes `hidden`) does not share anything: the trunk's work is "
        "thrown away for it, and training does not shape the trunk through it. Make the head read "
        "the trunk's output, or use `ActorCriticWrapper` for two separate networks.",
    ),
    CodeInfo(
        "W0301",
        "key written but never read",
        "A module writes a key that no module reads, that is not declared, and that is not one the "
        "training code reads by convention (`action`, `action_value`, `state_value`, "
        "`state_action_value`, `chosen_action_value`, `*_log_prob`, keys starting with `_`). It may "
        "be a typo in a reader, or an output that can be dropped.",
    ),
    CodeInfo(
        "W0302",
        "key overwritten",
        "In a sequence of modules, a module writes a key an earlier module of the same sequence "
        "already wrote, without reading it: the first value is lost. Modules that modify a key (an "
        "exploration module reads and writes the action) are not reported.",
    ),
    CodeInfo(
        "W0303",
        "Ornstein-Uhlenbeck noise never resets",
        "`OrnsteinUhlenbeckProcessModule` resets its noise where `is_init` (its `is_init_key`) is "
        "true, at the start of each trajectory. No key of that name is declared or produced, so the "
        "noise carries over from one trajectory to the next; declare `key is_init : bool[1]` (an "
        "InitTracker transform writes it).",
    ),
    CodeInfo(
        "W0304",
        "module overwrites a key it reads",
        "A network module that writes the key it reads (`MLP(...) : observation -> observation`) "
        "replaces the data it was given: running it again on the same tensordict (a loss replaying "
        "collected data, a second forward) feeds it its own output, and the observation the env gave "
        "is lost. Write the result to a key of its own and read that key afterwards. Exploration "
        "modules change the action in place by design and are not concerned.",
    ),
    CodeInfo(
        "W0501",
        "action may leave its spec",
        "A module writes a key with a spec that bounds its values, but nothing guarantees the values "
        "stay inside: a network output is unbounded, and so is a Gaussian sample. Make it so: "
        "`safe=true` projects onto the spec, `TanhModule` squashes into it, a bounded distribution "
        "(`TanhNormal(low=..., high=...)`) samples inside it.",
    ),
    CodeInfo(
        "W0502",
        "action mask not applied",
        "The action spec has a mask of allowed actions, but the module choosing the action does not "
        "read one: it may choose a forbidden action. Pass `action_mask_key=` (Q-value and "
        "epsilon-greedy modules) or use a masked distribution.",
    ),
    CodeInfo(
        "W0503",
        "declared bounds differ from the env's",
        "A key the env provides is declared with other bounds than the env's spec. Values from the "
        "env may lie outside the declared bounds (or the declaration is looser than needed); copy "
        "the env's bounds or use the env's spec (`key action : pendulum.action`).",
    ),
    CodeInfo(
        "W0701",
        "distribution covers only part of the spec",
        "A bounded distribution samples a smaller range than the action's spec allows, so some "
        "actions can never be taken (a `TanhNormal` without bounds samples in `[-1, 1]`). Pass the "
        "spec's bounds, `TanhNormal(low=action.low, high=action.high)`.",
    ),
)


def _index(table: Iterable[CodeInfo]) -> dict[str, CodeInfo]:
    """Codes by name; a code registered twice or in an unknown group is a programming error."""
    index: dict[str, CodeInfo] = {}
    for info in table:
        if info.code in index:
            raise ValueError(f"diagnostic code {info.code} is registered twice")
        if info.group not in GROUPS:
            raise ValueError(f"diagnostic code {info.code} has no group in GROUPS")
        index[info.code] = info
    return index


#: The registry: code -> :class:`CodeInfo`.
CODES: Mapping[str, CodeInfo] = _index(CODE_TABLE)


def explain(code: str) -> str:
    """The long explanation of a code, as ``rldsl explain CODE`` prints it.

    >>> explain("E0107").splitlines()[0]
    'E0107 (error): missing `:` in a key declaration'
    """
    info = CODES.get(code.upper())
    if info is None:
        raise KeyError(f"unknown diagnostic code {code!r}")
    return f"{info.code} ({info.severity.value}): {info.title}\n\n{info.explanation}\n"


def codes_markdown() -> str:
    """``docs/diagnostics.md``: every registered code, grouped by concern, in one document."""
    lines = [
        "# Diagnostic codes",
        "",
        "<!-- Generated from rldsl/lang/codes.py (CODE_TABLE) by codes_markdown(); "
        "do not edit by hand. -->",
        "",
        "Every diagnostic rldsl reports carries one of these codes. `E` codes are errors, `W` "
        "codes warnings; the two digits after the letter give the concern. "
        "`rldsl explain CODE` prints the explanation of one code.",
        "",
    ]
    for prefix, heading in GROUPS.items():
        infos = [info for info in CODE_TABLE if info.group == prefix]
        if not infos:
            continue
        lines += [f"## {heading} ({prefix}xx)" if prefix != "W" else f"## {heading} (Wxxxx)", ""]
        lines += ["| Code | Severity | Title | Explanation |", "| --- | --- | --- | --- |"]
        for info in infos:
            text = info.explanation.replace("|", "\\|")
            lines.append(f"| {info.code} | {info.severity.value} | {info.title} | {text} |")
        lines.append("")
    return "\n".join(lines)
