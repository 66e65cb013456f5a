using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace WebSockets.Client.Internal;

/// <summary>Creates each named service's client on first use and owns it until the container is disposed.</summary>
internal sealed class WebSocketServices : IWebSocketServices, IAsyncDisposable, IDisposable
{
    private readonly Dictionary<string, WebSocketServiceRegistration> _registrations;
    private readonly ConcurrentDictionary<string, Lazy<SocketClient>> _clients = new(StringComparer.Ordinal);
    private readonly IOptionsMonitor<SocketClientOptions> _options;
    private readonly ILoggerFactory? _loggerFactory;
    private readonly IMeterFactory? _meterFactory;
    private readonly TimeProvider _timeProvider;

    public WebSocketServices(
        IEnumerable<WebSocketServiceRegistration> registrations,
        IOptionsMonitor<SocketClientOptions> options,
        TimeProvider timeProvider,
        ILoggerFactory? loggerFactory = null,
        IMeterFactory? meterFactory = null)
    {
        _registrations = registrations.ToDictionary(r => r.Name, StringComparer.Ordinal);
        _options = options;
        _timeProvider = timeProvider;
        _loggerFactory = loggerFactory;
        _meterFactory = meterFactory;
    }

    public IReadOnlyCollection<string> Names => _registrations.Keys;

    public SocketClient GetClient(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!_registrations.TryGetValue(name, out var registration))
        {
            throw new InvalidOperationException($"No WebSocket service named '{name}' is registered. Register it with services.AddWebSocketService(\"{name}\", uri).");
        }

        return _clients.GetOrAdd(name, static (_, state) => new Lazy<SocketClient>(() => state.Self.Create(state.Registration)), (Self: this, Registration: registration)).Value;
    }

    public ValueTask WriteMessageToServiceAsync(string name, string data, SocketClientSendOptions? options = null, CancellationToken cancellationToken = default)
        => GetClient(name).SendAsync(data, options, cancellationToken);

    public ValueTask WriteMessageToServiceAsync(string name, byte[] data, SocketClientSendOptions? options = null, CancellationToken cancellationToken = default)
        => GetClient(name).SendAsync(data, options, cancellationToken);

    public ValueTask WriteMessageToServiceAsync<T>(string name, T data, SocketClientSendOptions? options = null, CancellationToken cancellationToken = default)
        => GetClient(name).SendJsonAsync(data, options, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients.Values)
        {
            if (client.IsValueCreated)
            {
                await client.Value.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// For containers disposed synchronously (a console app's <c>using var provider</c>). It blocks, because a client
    /// can only close asynchronously; each close is bounded by the client's <see cref="SocketClientOptions.CloseTimeout"/>.
    /// Hosts dispose asynchronously and don't get here.
    /// </summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private SocketClient Create(WebSocketServiceRegistration registration)
    {
        var options = _options.Get(registration.Name).Clone();
        options.Name ??= registration.Name;
        options.LoggerFactory ??= _loggerFactory;
        options.MeterFactory ??= _meterFactory;
        if (ReferenceEquals(options.TimeProvider, TimeProvider.System))
        {
            options.TimeProvider = _timeProvider;
        }

        return new SocketClient(registration.Uri, options);
    }
}
