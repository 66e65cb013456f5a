using Microsoft.Extensions.Hosting;

namespace WebSockets.Internal;

/// <summary>
/// Drains the registry when the host stops. It does so in <see cref="IHostedLifecycleService.StoppingAsync"/>, which
/// runs before any hosted service stops, so connections close while the web server still runs and before it
/// waits for requests (each WebSocket is one) to finish. The backplane starts before the server takes connections and
/// stops after they have closed.
/// </summary>
internal sealed class SocketRegistryHostedService(SocketRegistry registry) : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken) => registry.StartBackplaneAsync(cancellationToken);

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken)
    {
        registry.MarkStarted();
        return Task.CompletedTask;
    }

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        await registry.StopAsync(cancellationToken);
        await registry.StopBackplaneAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
