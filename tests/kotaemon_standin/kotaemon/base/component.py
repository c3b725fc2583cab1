"""Stand-in for `libs/kotaemon/kotaemon/base/component.py` (Kotaemon v0.11.3): `BaseComponent` on theflow's `Function`,
with its method stubs.
"""

from abc import abstractmethod

from theflow import Function


class BaseComponent(Function):
    """Base of every component: theflow's Function plus default invoke/stream stubs and an output queue."""

    inflow = None

    def flow(self):
        if self.inflow is None:
            raise ValueError("No inflow provided.")
        return self.__call__(self.inflow.flow())

    def set_output_queue(self, queue):
        self._queue = queue
        for name in self._ff_nodes:
            node = getattr(self, name)
            if isinstance(node, BaseComponent):
                node.set_output_queue(queue)

    def report_output(self, output):
        if output is not None:
            self._queue.put_nowait(output)

    def invoke(self, *args, **kwargs):
        pass

    async def ainvoke(self, *args, **kwargs):
        pass

    def stream(self, *args, **kwargs):
        pass

    def astream(self, *args, **kwargs):
        pass

    @abstractmethod
    def run(self, *args, **kwargs):
        """Run the component."""
        ...
