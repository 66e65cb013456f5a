using Microsoft.Extensions.Hosting;

namespace WebSockets.Client.Internal;

/// <summary>
/// Ties the named services to the host's lifetime: each connects when the host starts and is closed, after flushing
/// its outbox, when the host stops.
/// </summary>
internal sealed class WebSocketServicesHostedService(WebSocketServices services) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var name in services.Names)
        {
            var client = services.GetClient(name);
            if (client.ReconnectEnabled)
            {
                // Keep trying in the background: the host starts even if the service is down; sends wait in the outbox.
                client.StartInBackground();
            }
            else
            {
                // No reconnection: like GoFr's AddWSService, a service that can't be reached fails the start.
                await client.StartOrFailAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        var stops = services.Names.Select(name => services.GetClient(name).StopAsync(cancellationToken));
        await Task.WhenAll(stops).ConfigureAwait(false);
    }
}
