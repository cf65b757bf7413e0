"""Commands that outlive a connection: ids, event logs in Redis, resume, cancel (section 11)."""

from voice_mcp.services.commands.cancel_bus import CancelListener
from voice_mcp.services.commands.ids import is_command_id, new_instance_id
from voice_mcp.services.commands.models import CommandEvent, CommandInfo, CommandView
from voice_mcp.services.commands.registry import CommandRegistry
from voice_mcp.services.commands.running import RunningCommand

__all__ = ["CancelListener", "CommandEvent", "CommandInfo", "CommandRegistry", "CommandView",
           "RunningCommand", "is_command_id", "new_instance_id"]
