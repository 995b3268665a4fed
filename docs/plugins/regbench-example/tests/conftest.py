# regbench's test kit is opt-in: this line gives the tests its fixtures (regbench_pm, register_plugin,
# tiny_case). Put it in the conftest.py at the root of your tests.
pytest_plugins = ["regbench.testing"]
