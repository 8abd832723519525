"""TVM's errors are told apart from bugs in Python code that TVM called back."""

import pytest

from edgebuild.compile.tvm_errors import is_tvm_error, message


def raised(fn):
    with pytest.raises(Exception) as info:
        fn()
    return info.value


def test_an_error_raised_in_tvm_is_tvms():
    import tvm

    exc = raised(lambda: tvm.target.Target({"kind": "llvm", "no-such-option": 1}))
    assert is_tvm_error(exc) and "no-such-option" in message(exc)


def test_a_python_bug_inside_a_tvm_pass_is_not_tvms():
    import tvm

    @tvm.transform.module_pass(opt_level=0, name="Buggy")
    def buggy(mod, _ctx):
        return {}["missing"]  # KeyError in our code, raised through TVM's pass infrastructure

    exc = raised(lambda: buggy(tvm.IRModule({})))
    assert getattr(exc, "__tvm_ffi_error__", None) is not None  # marked by the FFI crossing...
    assert not is_tvm_error(exc)  # ...but raised by Python code outside TVM
    assert not is_tvm_error(KeyError("plain"))
