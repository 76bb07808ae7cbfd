package history_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/minerbench/minerbench/minerbench/history"
	"github.com/minerbench/minerbench/minerbench/wire"
)

func Example() {
	dir, err := os.MkdirTemp("", "history")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "results", "mock", "default", "template", "queries.csv")

	w, err := history.Open(path, history.RunInfo{NProcesses: 1, NCalls: 3, BatchSize: 10, BlockSize: 20, WorldSize: 1}, false)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer w.Abort() // a no-op after Commit; drops the rows on an early return

	var s history.Summary
	start := time.Unix(1700000000, 0)
	for i, code := range []wire.ReturnCode{wire.ReturnCode_Success, wire.ReturnCode_Success, wire.ReturnCode_Timeout} {
		r := history.Record{Time: start.Add(time.Duration(i) * time.Second), Code: code, Elapsed: time.Duration(i+1) * 100 * time.Millisecond}
		s.Add(r)
		if err := w.Append(r); err != nil {
			fmt.Println(err)
			return
		}
	}
	if err := w.Commit(); err != nil {
		fmt.Println(err)
		return
	}

	b, _ := os.ReadFile(path)
	fmt.Print(string(b))
	fmt.Printf("QPS %.1f, success %.0f%%, median %v\n", s.QPS(), 100*s.SuccessRate(), s.Quantile(0.5).Round(time.Millisecond))
	// Output:
	// ,time,code,elapsed,n_processes,n_calls,batch_size,block_size,world_size
	// 0,1700000000.0,1,0.1,1,3,10,20,1
	// 1,1700000001.0,1,0.2,1,3,10,20,1
	// 2,1700000002.0,2,0.3,1,3,10,20,1
	// QPS 5.0, success 67%, median 200ms
}
