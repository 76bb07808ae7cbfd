package history_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/minerbench/minerbench/minerbench/internal/history"
	"github.com/minerbench/minerbench/minerbench/internal/wire"
)

func Example() {
	dir, err := os.MkdirTemp("", "history")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "results", "mock", "default", "template", "queries.csv")

	w, err := history.Open(path, false)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer w.Abort() // a no-op after Commit; drops the rows on an early return

	run := history.RunInfo{NProcesses: 1, NCalls: 3, BatchSize: 10, BlockSize: 20, WorldSize: 1, Start: time.Unix(1700000000, 0)}
	var recs []history.Record
	for i, code := range []wire.ReturnCode{wire.ReturnCode_Success, wire.ReturnCode_Success, wire.ReturnCode_Timeout} {
		latency := time.Duration(i+1) * 100 * time.Millisecond
		recs = append(recs, history.Record{Latency: latency, Code: history.ReturnCode(code), Elapsed: time.Duration(i)*time.Second + latency})
	}
	if err := w.Append(run, recs...); err != nil {
		fmt.Println(err)
		return
	}
	if err := w.Commit(); err != nil {
		fmt.Println(err)
		return
	}

	b, _ := os.ReadFile(path)
	fmt.Print(string(b))

	f, _ := os.Open(path)
	defer f.Close()
	r := history.NewReader(f, path)
	for {
		row, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(row.Index, row.Latency, row.Code, row.Elapsed, row.Start.UTC().Format(time.RFC3339))
	}
	// Output:
	// ,time,code,elapsed,n_processes,n_calls,batch_size,block_size,world_size,start_time
	// 0,0.1,1,0.1,1,3,10,20,1,1700000000.0
	// 1,0.2,1,1.2,1,3,10,20,1,1700000000.0
	// 2,0.3,2,2.3,1,3,10,20,1,1700000000.0
	// 0 100ms Success 100ms 2023-11-14T22:13:20Z
	// 1 200ms Success 1.2s 2023-11-14T22:13:20Z
	// 2 300ms Timeout 2.3s 2023-11-14T22:13:20Z
}
