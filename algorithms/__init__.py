"""algorithms: the provable algorithms, one module per algorithm, grouped by problem family.

Subpackages (filled issue by issue): ``algorithms.nash`` (Nash learning from human feedback),
``algorithms.preference_learning``, ``algorithms.exploration``, ``algorithms.robust``,
``algorithms.average_reward``, ``algorithms.policy_optimization``, ``algorithms.submodular``,
and the optional torch bridge ``algorithms.torch``. Every algorithm imports :mod:`mdps` only
and returns a frozen result record.
"""

__all__: list[str] = []
