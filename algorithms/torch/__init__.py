"""algorithms.torch: the torch bridge (optional extra ``pip install "rl-theory-lab[torch]"``).

The same losses and updates as the NumPy lab, on tensors, so that they apply to neural and
LLM-sized policies whose only interface is a per-sequence log-probability:

=======================  ===================================================================
:mod:`.losses`           the DPO family (DPO, cDPO, rDPO, IPO in both normalisations, f-DPO,
                         SLiC) and INPO's pair loss on per-sequence log-probabilities of a
                         policy and a reference, mean over the batch
:mod:`.policies`         :class:`TabularSoftmaxPolicy`, a tabular softmax policy as an
                         ``nn.Module`` (float64 logits, one row per context)
:mod:`.nash`             the exact-mode OMD / Nash-MD / Nash Mirror Prox / INPO steps applied
                         to the logits of a :class:`TabularSoftmaxPolicy`, with the win rates
                         obtained by autograd of the preference objective
:mod:`.sequence`         :class:`TinyCausalTransformer` (plain torch), per-sequence
                         log-probabilities, the enumerated response space and its preference
                         game, and :func:`train_sequence_policy` (Nash-MD / Nash-MP / INPO by
                         distillation of the exact mirror step, or sampled Nash-MD-PG with
                         ``mode="sampled"``; exact exploitability recorded)
:mod:`.judges`           pairwise judges ``judge(x, y, y') = P(y > y' | x)``:
                         :class:`BradleyTerryJudge`, :class:`TableJudge` (an enumerated,
                         possibly intransitive matrix), :class:`FunctionJudge`
:mod:`.sampled`          sampled duels against the geometric mixture and the score-function
                         Nash-MD-PG loss of a sequence policy, with its exact counterpart
:mod:`.adapters`         :class:`LogitsModelPolicy`: any model returning per-token logits (a
                         tensor or ``.logits``, e.g. a Hugging Face causal LM) as a sequence policy
=======================  ===================================================================

Every per-pair formula has one definition, in :mod:`algorithms.preference_learning.losses`
(NumPy, with exact derivatives); the torch versions evaluate the same expressions with torch
operations (so they run on any device and support double backward) and the tests compare
their values and autograd gradients with the NumPy values and ``*_grad`` functions on identical
inputs. The core lab (``mdps``, ``algorithms``' other packages, ``labkit``, ``proofs_checks``)
never imports torch: only this package does, and the bridge's check imports it lazily.
"""

from __future__ import annotations

from algorithms.torch import adapters, judges, losses, nash, policies, sampled, sequence
from algorithms.torch.adapters import LogitsModelPolicy
from algorithms.torch.judges import BradleyTerryJudge, FunctionJudge, PairwiseJudge, TableJudge
from algorithms.torch.policies import TabularSoftmaxPolicy
from algorithms.torch.sequence import TinyCausalTransformer, sequence_log_probs, train_sequence_policy

__all__ = ["losses", "policies", "nash", "sequence", "judges", "sampled", "adapters", "TabularSoftmaxPolicy",
           "TinyCausalTransformer", "sequence_log_probs", "train_sequence_policy", "PairwiseJudge",
           "BradleyTerryJudge", "TableJudge", "FunctionJudge", "LogitsModelPolicy"]
