using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace WebSockets.Internal;

/// <summary>A handler that outlived its <see cref="WebSocketEndpointOptions.HandlerTimeout"/> and runs on unawaited.</summary>
internal static class AbandonedHandler
{
    /// <summary>
    /// Waits, off the connection's message loop, for the handler to end: observes its failure, then disposes its
    /// controller (if any) and its scope, which it used until then.
    /// </summary>
    public static async Task FinishAsync(Task<object?> running, SocketConnection connection, AsyncServiceScope? scope, object? target, ILogger logger)
    {
        var connectionId = connection.Id;
        connection.OnHandlerAbandoned();
        try
        {
            await running;
        }
        catch (OperationCanceledException)
        {
            // It honored its token, late.
        }
        catch (Exception ex)
        {
            LimitsLog.AbandonedHandlerFailed(logger, connectionId, ex);
        }

        if (scope is { } owned)
        {
            try
            {
                await ControllerBinder.DisposeAsync(target);
                await owned.DisposeAsync();
            }
            catch (Exception ex)
            {
                // A service that fails to dispose is the application's bug, not the connection's.
                LimitsLog.AbandonedHandlerFailed(logger, connectionId, ex);
            }
        }

        connection.OnAbandonedHandlerEnded();
    }
}
