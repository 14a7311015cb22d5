"""Templates rendered once for many mails: a draft with placeholders, filled per mail.

A batch of mail opens tens of requests, and each acknowledgement differs from the others
only in a few plain values (the token, the subject, the requester's name). Rendering the
templates once per batch with a placeholder for each of those values, then putting each
mail's values in, gives the same text as rendering the templates for every mail, as long
as the templates use those values only as they are: printed (escaped or not), tested for
emptiness (`{% if name %}`, `|default:`) or passed to `{% blocktranslate %}`.
`uses_plainly` checks that, for the templates and those they extend; a template that does
more (a filter, an attribute, a comparison, a tag not listed here) is rendered per mail.

The emptiness of each value is fixed by the draft: a caller keeps one draft per
combination of empty and non-empty values.
"""

import re
from collections.abc import Iterable, Mapping

from django.template.base import (
    FilterExpression,
    Node,
    Template,
    TextNode,
    TokenType,
    Variable,
    VariableNode,
)
from django.template.defaultfilters import default as default_filter
from django.template.defaulttags import (
    AutoEscapeControlNode,
    CommentNode,
    IfNode,
    LoadNode,
    TemplateLiteral,
)
from django.template.loader_tags import BlockNode, ExtendsNode
from django.templatetags.i18n import BlockTranslateNode, TranslateNode
from django.utils.html import conditional_escape

# Private-use characters no template or translation holds; the `&` shows whether the
# template escaped the value there (`&amp;`) or printed it as it is.
_PLACEHOLDER = re.compile("\ue000([A-Za-z_][A-Za-z0-9_]*)(&|&amp;)\ue001")


def placeholder(name: str) -> str:
    """What stands for the value `name` in a draft."""
    return f"\ue000{name}&\ue001"


def fill(draft: str, values: Mapping[str, str]) -> str:
    """The draft with each placeholder replaced by its value, escaped where the template
    escaped it (as Django's `render_value_in_context` does)."""

    def value(match: re.Match[str]) -> str:
        text = values[match[1]]
        return text if match[2] == "&" else str(conditional_escape(text))

    return _PLACEHOLDER.sub(value, draft)


def uses_plainly(template: Template, names: Iterable[str], fixed: Iterable[str] = ()) -> bool:
    """Whether `template` (and every template it extends) uses the context's `names` only
    plainly, and nothing of the context but them and the `fixed` names (the same for every
    mail); if so, a draft filled with `fill` equals a rendering with the values."""
    known = {*names, *fixed}
    return _plain(template.nodelist, known, template, {template.origin.name})


def _known(var: object, known: set[str]) -> bool:
    """A known context name: no attribute or item lookup, no constant."""
    return (
        isinstance(var, Variable)
        and var.literal is None
        and var.lookups is not None
        and len(var.lookups) == 1
        and var.lookups[0] in known
    )


def _name(expression: FilterExpression, known: set[str]) -> bool:
    """A known name, as it is."""
    return not expression.filters and _known(expression.var, known)


def _literal(expression: FilterExpression) -> bool:
    var = expression.var
    return not expression.filters and isinstance(var, Variable) and var.literal is not None


def _value(expression: FilterExpression, known: set[str]) -> bool:
    """A known name, as it is or `|default:` a known name or a constant (which depends
    only on the value's emptiness)."""
    if not _known(expression.var, known):
        return False
    for function, arguments in expression.filters:
        if function is not default_filter or len(arguments) != 1:
            return False
        is_lookup, argument = arguments[0]
        if is_lookup and not _known(argument, known):
            return False
    return True


def _plain(nodes: Iterable[Node], known: set[str], template: Template, seen: set[str]) -> bool:
    for node in nodes:
        if isinstance(node, TextNode | LoadNode | CommentNode):
            continue
        if isinstance(node, VariableNode):
            if not _name(node.filter_expression, known):
                return False
        elif isinstance(node, BlockNode | AutoEscapeControlNode):
            if not _plain(node.nodelist, known, template, seen):
                return False
        elif isinstance(node, IfNode):
            for condition, nodelist in node.conditions_nodelists:
                if condition is not None and not (
                    isinstance(condition, TemplateLiteral)
                    and isinstance(condition.value, FilterExpression)
                    and _name(condition.value, known)
                ):
                    return False
                if not _plain(nodelist, known, template, seen):
                    return False
        elif isinstance(node, TranslateNode):
            if node.message_context is not None or not _literal(node.filter_expression):
                return False
            if node.asvar:
                # A translation of a constant: the same in every mail.
                known.add(node.asvar)
        elif isinstance(node, BlockTranslateNode):
            if not _plain_blocktranslate(node, known):
                return False
        elif isinstance(node, ExtendsNode):
            if not _plain_extends(node, known, template, seen):
                return False
        else:
            return False
    return True


def _plain_blocktranslate(node: BlockTranslateNode, known: set[str]) -> bool:
    if node.plural or node.countervar or node.asvar or node.message_context is not None:
        return False
    inner = set(known)
    for name, expression in node.extra_context.items():
        if not _value(expression, known):
            return False
        inner.add(name)
    return all(
        token.contents in inner for token in node.singular if token.token_type == TokenType.VAR
    )


def _plain_extends(node: ExtendsNode, known: set[str], template: Template, seen: set[str]) -> bool:
    parent_name = node.parent_name
    if (
        not isinstance(parent_name, FilterExpression)
        or parent_name.filters
        or not isinstance(parent_name.var, str)
    ):
        return False
    parent = template.engine.get_template(parent_name.var)
    if parent.origin.name in seen:
        return False
    return _plain(parent.nodelist, known, parent, {*seen, parent.origin.name}) and _plain(
        node.nodelist, known, template, seen
    )
