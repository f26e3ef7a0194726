from brainmark.registry import benchmark_registry

from .benchmark import Mur2013OddOneOut, kiani2007_monkey_it, kriegeskorte2008_human_it

benchmark_registry["Kriegeskorte2008.IT-rdm"] = kriegeskorte2008_human_it
benchmark_registry["Kiani2007.IT-rdm"] = kiani2007_monkey_it
benchmark_registry["Mur2013-rdm"] = Mur2013OddOneOut
