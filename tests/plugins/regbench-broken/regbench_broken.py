"""A plugin with the mistake the plugin tutorial warns about: it registers the class, not an instance.

regbench leaves it out and names it, its distribution and how to skip it (``REGBENCH_BLOCK_PLUGINS=broken``):
``regbench list`` shows everything else and this plugin in its "Broken plugins" section (exit 1), and
``regbench run`` refuses with the same line (exit 2).
"""

import regbench


class Steady(regbench.SingleRunStrategy):
    """regular-step gradient descent"""

    def configure(self, method, params):
        method.SetOptimizerAsRegularStepGradientDescent(1.0, 1e-3, 30)


@regbench.hookimpl
def regbench_register_strategies(register):
    register(Steady)  # the mistake: register(Steady("broken-steady")) was meant
