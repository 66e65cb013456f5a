using Microsoft.Extensions.Hosting;

namespace WebSockets.Internal;

/// <summary>
/// Drains the registry when the host stops. It does so in <see cref="IHostedLifecycleService.StoppingAsync"/>, which
/// runs before any hosted service stops, so connections close while the web server still runs and before it
/// waits for requests (each WebSocket is one) to finish.
/// </summary>
internal sealed class SocketRegistryHostedService(SocketRegistry registry) : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => registry.StopAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
