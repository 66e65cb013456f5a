using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;

namespace WebSockets;

/// <summary>
/// Per-connection session data: typed values stored under string keys for the lifetime of one connection.
/// Safe to use from any number of threads at once.
/// </summary>
public sealed class SocketSession
{
    private ConcurrentDictionary<string, object?>? _items;

    /// <summary>Gets the number of stored values.</summary>
    public int Count => _items?.Count ?? 0;

    /// <summary>Stores <paramref name="value"/> under <paramref name="key"/>, replacing any previous value.</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="key">The key. Keys are compared ordinally.</param>
    /// <param name="value">The value.</param>
    public void Set<T>(string key, T value)
    {
        ArgumentNullException.ThrowIfNull(key);
        var items = _items ?? Interlocked.CompareExchange(ref _items, new ConcurrentDictionary<string, object?>(StringComparer.Ordinal), null) ?? _items;
        items[key] = value;
    }

    /// <summary>Gets the value stored under <paramref name="key"/>.</summary>
    /// <typeparam name="T">The expected type.</typeparam>
    /// <param name="key">The key.</param>
    /// <param name="value">The value, when found and of type <typeparamref name="T"/>.</param>
    /// <returns><see langword="true"/> when a value of type <typeparamref name="T"/> is stored under the key.</returns>
    public bool TryGet<T>(string key, [MaybeNullWhen(false)] out T value)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (_items is { } items && items.TryGetValue(key, out var stored) && stored is T typed)
        {
            value = typed;
            return true;
        }

        value = default;
        return false;
    }

    /// <summary>Gets the value stored under <paramref name="key"/>, or <see langword="default"/> when there is none of type <typeparamref name="T"/>.</summary>
    /// <typeparam name="T">The expected type.</typeparam>
    /// <param name="key">The key.</param>
    public T? Get<T>(string key) => TryGet<T>(key, out var value) ? value : default;

    /// <summary>Removes the value stored under <paramref name="key"/>.</summary>
    /// <param name="key">The key.</param>
    /// <returns><see langword="true"/> when a value was removed.</returns>
    public bool Remove(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return _items is { } items && items.TryRemove(key, out _);
    }

    /// <summary>Gets whether a value is stored under <paramref name="key"/>.</summary>
    /// <param name="key">The key.</param>
    public bool ContainsKey(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return _items is { } items && items.ContainsKey(key);
    }
}
