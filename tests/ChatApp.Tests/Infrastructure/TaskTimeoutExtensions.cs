using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace ChatApp.Tests.Infrastructure;

/// <summary>Every await in a test gets a bound, so a hang fails with its place instead of stalling the run.</summary>
internal static class TaskTimeoutExtensions
{
    public static readonly TimeSpan DefaultTimeoutValue = Debugger.IsAttached ? Timeout.InfiniteTimeSpan : TimeSpan.FromSeconds(30);

    public static async Task DefaultTimeout(this Task task, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        try
        {
            await task.WaitAsync(DefaultTimeoutValue);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"The operation at {Path.GetFileName(file)}:{line} did not complete within {DefaultTimeoutValue}.");
        }
    }

    public static async Task<T> DefaultTimeout<T>(this Task<T> task, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        try
        {
            return await task.WaitAsync(DefaultTimeoutValue);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"The operation at {Path.GetFileName(file)}:{line} did not complete within {DefaultTimeoutValue}.");
        }
    }
}
