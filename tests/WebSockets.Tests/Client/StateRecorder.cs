using WebSockets.Client;

namespace WebSockets.Tests.Client;

/// <summary>Records a client's state changes in order and lets a test await one.</summary>
internal sealed class StateRecorder
{
    private readonly Lock _lock = new();
    private readonly List<SocketClientStateChangedEventArgs> _changes = [];
    private readonly List<(Func<SocketClientStateChangedEventArgs, bool> Match, TaskCompletionSource<SocketClientStateChangedEventArgs> Signal)> _waiters = [];

    public StateRecorder(SocketClient client) => client.StateChanged += (_, change) => Add(change);

    public IReadOnlyList<SocketClientStateChangedEventArgs> Changes
    {
        get
        {
            lock (_lock)
            {
                return [.. _changes];
            }
        }
    }

    /// <summary>The changes as short strings: "Connecting", "Connected", "Reconnecting(2)", "Disconnected(ServerClosed)".</summary>
    public IReadOnlyList<string> Sequence => [.. Changes.Select(c => c.State switch
    {
        SocketClientState.Reconnecting => $"Reconnecting({c.Attempt})",
        SocketClientState.Disconnected => $"Disconnected({c.DisconnectReason})",
        _ => c.State.ToString(),
    })];

    /// <summary>Completes with the <paramref name="occurrence"/>-th change (1-based) that matches, now or later.</summary>
    public Task<SocketClientStateChangedEventArgs> WaitForAsync(Func<SocketClientStateChangedEventArgs, bool> match, int occurrence = 1)
    {
        lock (_lock)
        {
            var existing = _changes.Where(match).Skip(occurrence - 1).FirstOrDefault();
            if (existing is not null)
            {
                return Task.FromResult(existing);
            }

            var seen = _changes.Count(match);
            var remaining = occurrence - seen;
            var signal = new TaskCompletionSource<SocketClientStateChangedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((c => match(c) && --remaining == 0, signal));
            return signal.Task;
        }
    }

    public Task<SocketClientStateChangedEventArgs> WaitForAsync(SocketClientState state, int occurrence = 1)
        => WaitForAsync(c => c.State == state, occurrence);

    private void Add(SocketClientStateChangedEventArgs change)
    {
        lock (_lock)
        {
            _changes.Add(change);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Match(change))
                {
                    _waiters[i].Signal.TrySetResult(change);
                    _waiters.RemoveAt(i);
                }
            }
        }
    }
}
