namespace WebSockets.Client.Internal;

/// <summary>Removes a handler when disposed, if it is still the registered one.</summary>
internal sealed class Registration(Action unregister) : IDisposable
{
    private Action? _unregister = unregister;

    public void Dispose() => Interlocked.Exchange(ref _unregister, null)?.Invoke();
}
