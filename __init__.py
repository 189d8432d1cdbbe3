"""jaxsynth: a grammar-driven synthesizer of JAX programs, lowered to StableHLO.

The package is its folders: `jaxsynth.grammar` (the Lark grammar), `jaxsynth.synth`
(types, rules, sampling and enumeration, printing), `jaxsynth.lowering` (any
function to StableHLO and its op counts), `jaxsynth.corpus` (records on disk,
the run pipeline, analyses and the `jaxsynth` command). Importing this module
imports none of them, nor JAX.
"""
