# SPDX-License-Identifier: BSD-3-Clause
"""daxo_h.py -- read the public functions of include/daxo.h and lib/libdaxo.sym.

Shared by gen_recorder.py (which wraps every int-returning function) and
check_contract.py (which compares the error codes seen with the documented
ones). The header is house style: every exported function is declared
`DAXO_EXPORT <type> <name>(<parameters>);`, after a comment that documents
it; a comment may document several declarations that follow it together.
A function's documented errors are the -E... names in that comment.
"""
import re

_COMMENT_OR_DECL = re.compile(r'/\*.*?\*/|^DAXO_EXPORT\b', re.S | re.M)
_ATTRS = re.compile(r'\bDAXO_(EXPORT|DEPRECATED)\b(\s*\([^)]*\))?')
_IDENT_END = re.compile(r'([A-Za-z_]\w*)\s*(\[[^\]]*\])?\s*$')
_FNPTR = re.compile(r'^(.*?)\(\s*\*\s*([A-Za-z_]\w*)\s*\)\s*\((.*)\)\s*$', re.S)


def split_top(s, sep=','):
    """split @s at @sep outside parentheses"""
    out, depth, cur = [], 0, ''
    for ch in s:
        if ch == '(':
            depth += 1
        elif ch == ')':
            depth -= 1
        if ch == sep and depth == 0:
            out.append(cur)
            cur = ''
        else:
            cur += ch
    if cur.strip():
        out.append(cur)
    return [x.strip() for x in out]


def parse_param(text):
    """{'text', 'name', 'fnptr': None or {'ret', 'params': [...]}}"""
    text = ' '.join(text.split())
    m = _FNPTR.match(text)
    if m:
        inner = [parse_param(p) for p in split_top(m.group(3))]
        inner = [p for p in inner if p['text'] != 'void']
        return {'text': text, 'name': m.group(2),
                'fnptr': {'ret': m.group(1).strip(), 'params': inner}}
    if text == 'void':
        return {'text': text, 'name': None, 'fnptr': None}
    m = _IDENT_END.search(text)
    if not m or m.start(1) == 0:
        raise ValueError('parameter without a name: %r' % text)
    return {'text': text, 'name': m.group(1), 'fnptr': None}


def functions(header_text):
    """[{'name', 'ret', 'params', 'decl', 'doc', 'codes'}] in header order"""
    funcs = []
    doc = ''
    for m in _COMMENT_OR_DECL.finditer(header_text):
        if m.group(0).startswith('/*'):
            doc = m.group(0)
            continue
        end = header_text.index(';', m.start())
        decl = ' '.join(_ATTRS.sub(' ', header_text[m.start():end]).split())
        open_ = decl.index('(')
        head = decl[:open_].rstrip()
        name_m = _IDENT_END.search(head)
        name = name_m.group(1)
        ret = head[:name_m.start(1)].strip()
        params_text = decl[open_ + 1:decl.rindex(')')]
        params = [parse_param(p) for p in split_top(params_text)]
        params = [p for p in params if p['text'] != 'void']
        # a comment documents the declarations after it that it names
        own_doc = doc if re.search(r'\b%s\b' % re.escape(name), doc) else ''
        funcs.append({'name': name, 'ret': ret, 'params': params,
                      'decl': decl, 'doc': own_doc,
                      'codes': sorted(set(re.findall(r'-E[A-Z0-9]+',
                                                     own_doc)))})
    return funcs


def version_nodes(sym_text):
    """[(node, parent or None, [names])] of a linker version script"""
    text = re.sub(r'#[^\n]*', '', sym_text)
    nodes = []
    for m in re.finditer(r'([A-Za-z_][\w.]*)\s*\{(.*?)\}\s*([A-Za-z_][\w.]*)?\s*;',
                         text, re.S):
        body = re.sub(r'local:.*', '', m.group(2), flags=re.S)
        body = body.replace('global:', '')
        names = [n.strip() for n in body.split(';') if n.strip()]
        nodes.append((m.group(1), m.group(3), names))
    return nodes
