#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""test_tree_map.py -- README's map of the source tree matches the tree.

usage: test_tree_map.py SRCDIR

The map is the list under "## The source tree" in README.md: each item
names, in backquotes before " -- ", the paths it describes (a folder ends
with "/", and "FOLDER/*" stands for every file under FOLDER). The test
fails, naming them, for every file of the tree that no item covers, every
folder that holds files and has no item, and every path an item names
that does not exist. The tree is what git tracks (`git ls-files`), or,
outside a git checkout, every file under SRCDIR but .git and build
directories (those holding meson-private/).
"""
import os
import re
import subprocess
import sys


def map_items(readme):
    text = open(readme).read()
    m = re.search(r'^## The source tree\n(.*?)(?=^## |\Z)', text, re.S | re.M)
    if not m:
        return None
    items, cur = [], None
    for line in m.group(1).splitlines():
        if re.match(r'^\s*- ', line):
            cur = line.strip()[2:]
            items.append(cur)
        elif cur is not None and line.strip():
            items[-1] += ' ' + line.strip()
        else:
            cur = None
    paths = []
    for it in items:
        head = it.split(' -- ', 1)[0]
        paths += re.findall(r'`([^`]+)`', head)
    return paths


def tree_files(src):
    try:
        out = subprocess.run(['git', '-C', src, 'ls-files', '-z'],
                             capture_output=True, check=True).stdout
        files = [f for f in out.decode().split('\0') if f]
        if files:
            return files
    except (OSError, subprocess.CalledProcessError):
        pass
    files = []
    for root, dirs, names in os.walk(src):
        dirs[:] = [d for d in dirs if d != '.git' and not
                   os.path.isdir(os.path.join(root, d, 'meson-private'))]
        for n in names:
            files.append(os.path.relpath(os.path.join(root, n), src))
    return files


def main():
    src = sys.argv[1]
    paths = map_items(os.path.join(src, 'README.md'))
    if paths is None:
        print('FAIL: README.md has no "## The source tree" section')
        return 1
    files = tree_files(src)
    fails = []
    exact = {p for p in paths if not p.endswith('/') and not p.endswith('/*')}
    globs = [p[:-1] for p in paths if p.endswith('/*')]
    folders = {p for p in paths if p.endswith('/')}
    for p in paths:
        full = os.path.join(src, p.rstrip('*'))
        if p.endswith('/') or p.endswith('/*'):
            ok = os.path.isdir(full)
        else:
            ok = os.path.isfile(full) or os.path.islink(full)
        if not ok:
            fails.append('the map names %s, which is not in the tree' % p)
    for f in sorted(files):
        if f not in exact and not any(f.startswith(g) for g in globs):
            fails.append('%s is not in the map (README.md, "The source '
                         'tree")' % f)
        d = os.path.dirname(f)
        while d:
            if d + '/' not in folders and not any(
                    (d + '/').startswith(g) for g in globs):
                fails.append('folder %s/ is not in the map' % d)
            d = os.path.dirname(d)
    fails = sorted(set(fails))
    for msg in fails:
        print('FAIL:', msg)
    print('test_tree_map: %d files, %d map entries, %d problems' %
          (len(files), len(paths), len(fails)))
    return 1 if fails else 0


if __name__ == '__main__':
    sys.exit(main())
